package io.tollgate.metering.store;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.streams.ReadStream;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowStream;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Transaction;
import io.vertx.sqlclient.Tuple;

/**
 * A query's rows as a stream with back-pressure: a Postgres cursor (inside a read-only
 * transaction, which cursors need) fetching a few rows at a time, on a connection of its own.
 * {@link #close} releases cursor, transaction and connection; call it when done or gone.
 */
public final class RowCursor implements ReadStream<Row> {

  private final SqlConnection conn;
  private final Transaction tx;
  private final RowStream<Row> rows;
  private boolean closed;

  private RowCursor(SqlConnection conn, Transaction tx, RowStream<Row> rows) {
    this.conn = conn;
    this.tx = tx;
    this.rows = rows;
  }

  /** Opens the cursor, fetching {@code fetch} rows at a time; a failure to open leaves nothing open. */
  public static Future<RowCursor> open(Pool pool, String sql, Tuple params, int fetch) {
    return pool.getConnection().compose(conn -> conn.begin().compose(tx -> conn.prepare(sql)
            .map(ps -> new RowCursor(conn, tx, ps.createStream(fetch, params))))
        .onFailure(err -> conn.close()));
  }

  /** Releases the cursor, the transaction and the connection; again is harmless. */
  public void close() {
    if (!closed) {
      closed = true;
      rows.close().eventually(tx::rollback).eventually(conn::close);
    }
  }

  @Override
  public RowCursor exceptionHandler(Handler<Throwable> handler) {
    rows.exceptionHandler(handler);
    return this;
  }

  @Override
  public RowCursor handler(Handler<Row> handler) {
    rows.handler(handler);
    return this;
  }

  @Override
  public RowCursor pause() {
    rows.pause();
    return this;
  }

  @Override
  public RowCursor resume() {
    rows.resume();
    return this;
  }

  @Override
  public RowCursor fetch(long amount) {
    rows.fetch(amount);
    return this;
  }

  @Override
  public RowCursor endHandler(Handler<Void> endHandler) {
    rows.endHandler(endHandler);
    return this;
  }
}
