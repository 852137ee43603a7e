package io.tollgate.stripesync.webhooks;

import io.vertx.core.Future;
import io.vertx.sqlclient.SqlConnection;
import java.util.List;
import java.util.function.Supplier;

/**
 * Applies one stored event, inside the transaction that marks it processed: whatever it writes
 * commits together with that mark, or not at all. Effects outside Postgres (Redis balances, the
 * key caches) go in {@link Handled#afterCommit} and run once the transaction has committed.
 * A failed future means "try again later"; a handler that has nothing to do returns an outcome
 * saying so.
 */
@FunctionalInterface
public interface EventHandler {

  Future<Handled> handle(SqlConnection conn, StripeEvent event);

  /**
   * @param outcome     what was done, in a few words (stored with the event, shown by the admin API)
   * @param accountId   the account concerned, or null
   * @param afterCommit effects outside Postgres, run in order after the commit
   */
  record Handled(String outcome, Long accountId, List<Supplier<Future<?>>> afterCommit) {

    public Handled {
      afterCommit = List.copyOf(afterCommit);
    }

    public static Handled of(String outcome, Long accountId) {
      return new Handled(outcome, accountId, List.of());
    }

    public static Handled ignored(String why) {
      return new Handled("ignored: " + why, null, List.of());
    }

    /**
     * Runs the effects in order once the transaction has committed. A failed effect is reported
     * and the next one still runs: Postgres holds the change, and the hot copies follow it on
     * their own (key cache TTL, balance rebuilt from the ledger).
     */
    public Future<Void> runAfterCommit(java.util.function.Consumer<Throwable> onFailure) {
      Future<?> chain = Future.succeededFuture();
      for (Supplier<Future<?>> effect : afterCommit) {
        chain = chain.compose(v -> effect.get()).recover(err -> {
          onFailure.accept(err);
          return Future.succeededFuture();
        });
      }
      return chain.mapEmpty();
    }
  }

  /** The event can never be applied as it is (say, a price no plan sells): parked at once, not retried. */
  final class Unprocessable extends RuntimeException {
    public Unprocessable(String message) {
      super(message, null, false, false);
    }
  }
}
