package io.tollgate.stripesync.billing;

import com.stripe.StripeClient;
import com.stripe.exception.ApiConnectionException;
import com.stripe.exception.AuthenticationException;
import com.stripe.exception.CardException;
import com.stripe.exception.PermissionException;
import com.stripe.exception.RateLimitException;
import com.stripe.exception.StripeException;
import com.stripe.model.Customer;
import com.stripe.model.Invoice;
import com.stripe.model.PaymentIntent;
import com.stripe.model.StripeError;
import com.stripe.model.Subscription;
import com.stripe.model.SubscriptionItem;
import com.stripe.model.checkout.Session;
import com.stripe.net.RequestOptions;
import com.stripe.param.CustomerCreateParams;
import com.stripe.param.InvoiceCreatePreviewParams;
import com.stripe.param.InvoiceListParams;
import com.stripe.param.SubscriptionListParams;
import com.stripe.param.SubscriptionUpdateParams;
import com.stripe.param.PaymentIntentCreateParams;
import com.stripe.param.checkout.SessionCreateParams;
import io.tollgate.config.Secret;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * {@link StripeBilling} through stripe-java's {@link StripeClient}. Unlike the meter relay, these
 * calls let stripe-java retry ({@value #NETWORK_RETRIES} times, with its own backoff) on connection
 * errors, 409 and 5xx, and on a 429 that Stripe marks retryable ({@code Stripe-Should-Retry: true},
 * a lock timeout): every call here is interactive or carries an idempotency key, so a retry can only
 * return what the first attempt made. A plain rate-limit 429 is not retried by stripe-java and
 * comes back as {@link BillingFailure.Kind#RATE_LIMITED} at once.
 *
 * <p>Written against stripe-java 33.3 (API version 2026-07-29.dahlia): a subscription's
 * {@code current_period_start/end} live on its items, and an invoice's subscription under
 * {@code parent.subscription_details.subscription}.
 */
public final class StripeJavaBilling implements StripeBilling {

  static final int NETWORK_RETRIES = 2;
  static final String ACCOUNT_METADATA = "tollgate_account_id";
  private static final java.util.Set<String> LIVE = java.util.Set.of("trialing", "active", "past_due");
  /** Anything shaped like a Stripe API key, even one Stripe masked itself ({@code sk_test_****1234}). */
  private static final Pattern KEY_LIKE = Pattern.compile("\\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9*_]*");

  private final StripeClient client;
  private final Secret apiKey;

  public StripeJavaBilling(Secret apiKey, URI apiBase, Duration timeout) {
    int millis = (int) Math.min(Integer.MAX_VALUE, timeout.toMillis());
    this.apiKey = apiKey;
    this.client = StripeClient.builder().setApiKey(apiKey.reveal()).setApiBase(apiBase.toString())
        .setMaxNetworkRetries(NETWORK_RETRIES).setConnectTimeout(millis).setReadTimeout(millis).build();
  }

  @Override
  public String createCustomer(long accountId, String name, String email, String idempotencyKey) throws BillingFailure {
    CustomerCreateParams.Builder params = CustomerCreateParams.builder().setName(name)
        .putMetadata(ACCOUNT_METADATA, Long.toString(accountId));
    if (email != null) {
      params.setEmail(email);
    }
    Customer customer = call("customer creation for account " + accountId,
        () -> client.v1().customers().create(params.build(), idempotent(idempotencyKey)));
    return customer.getId();
  }

  @Override
  public CheckoutLink createCheckoutSession(CheckoutRequest r) throws BillingFailure {
    // Subscription and PaymentIntent events do not carry client_reference_id: the account id travels
    // in their metadata too, so every webhook can be tied to its account without a lookup.
    Map<String, String> metadata = new LinkedHashMap<>(r.metadata());
    metadata.put(ACCOUNT_METADATA, Long.toString(r.accountId()));
    SessionCreateParams.Builder params = SessionCreateParams.builder().setCustomer(r.customerId())
        .setSuccessUrl(r.successUrl()).setCancelUrl(r.cancelUrl()).setClientReferenceId(Long.toString(r.accountId()))
        .putAllMetadata(metadata);
    for (CheckoutRequest.LineItem item : r.items()) {
      SessionCreateParams.LineItem.Builder line = SessionCreateParams.LineItem.builder().setPrice(item.priceId());
      if (item.quantity() != null) {
        line.setQuantity(item.quantity());
      }
      params.addLineItem(line.build());
    }
    if (r.mode() == CheckoutRequest.Mode.SUBSCRIPTION) {
      SessionCreateParams.SubscriptionData.Builder subscription = SessionCreateParams.SubscriptionData.builder().putAllMetadata(metadata);
      CheckoutRequest.Trial trial = r.trial();
      if (trial != null) {
        subscription.setTrialPeriodDays((long) trial.days());
        if (trial.withoutCard()) {
          params.setPaymentMethodCollection(SessionCreateParams.PaymentMethodCollection.IF_REQUIRED);
          subscription.setTrialSettings(SessionCreateParams.SubscriptionData.TrialSettings.builder()
              .setEndBehavior(SessionCreateParams.SubscriptionData.TrialSettings.EndBehavior.builder()
                  .setMissingPaymentMethod(switch (trial.onMissingPaymentMethod()) {
                    case CANCEL -> SessionCreateParams.SubscriptionData.TrialSettings.EndBehavior.MissingPaymentMethod.CANCEL;
                    case PAUSE -> SessionCreateParams.SubscriptionData.TrialSettings.EndBehavior.MissingPaymentMethod.PAUSE;
                  }).build())
              .build());
        }
      }
      params.setMode(SessionCreateParams.Mode.SUBSCRIPTION).setSubscriptionData(subscription.build());
    } else {
      params.setMode(SessionCreateParams.Mode.PAYMENT).setPaymentIntentData(SessionCreateParams.PaymentIntentData.builder()
          .putAllMetadata(metadata).setSetupFutureUsage(SessionCreateParams.PaymentIntentData.SetupFutureUsage.OFF_SESSION).build());
    }
    Session session = call("checkout session creation (" + r.mode().name().toLowerCase() + ") for " + r.customerId(),
        () -> client.v1().checkout().sessions().create(params.build(), idempotent(r.idempotencyKey())));
    return new CheckoutLink(session.getId(), session.getUrl(), instant(session.getExpiresAt()));
  }

  @Override
  public String createPortalSession(String customerId, String returnUrl, String idempotencyKey) throws BillingFailure {
    com.stripe.param.billingportal.SessionCreateParams params = com.stripe.param.billingportal.SessionCreateParams.builder()
        .setCustomer(customerId).setReturnUrl(returnUrl).build();
    return call("billing portal session creation for " + customerId,
        () -> client.v1().billingPortal().sessions().create(params, idempotent(idempotencyKey))).getUrl();
  }

  @Override
  public List<InvoiceInfo> listInvoices(String customerId, int limit) throws BillingFailure {
    InvoiceListParams params = InvoiceListParams.builder().setCustomer(customerId).setLimit((long) Math.max(1, Math.min(100, limit))).build();
    List<Invoice> invoices = call("invoice list for " + customerId, () -> client.v1().invoices().list(params)).getData();
    List<InvoiceInfo> out = new ArrayList<>(invoices.size());
    for (Invoice i : invoices) {
      String subscription = i.getParent() == null || i.getParent().getSubscriptionDetails() == null ? null
          : i.getParent().getSubscriptionDetails().getSubscription();
      out.add(new InvoiceInfo(i.getId(), i.getStatus(), orZero(i.getAmountDue()), orZero(i.getAmountPaid()), i.getCurrency(),
          i.getHostedInvoiceUrl(), i.getInvoicePdf(), instant(i.getCreated()), instant(i.getPeriodStart()), instant(i.getPeriodEnd()),
          subscription, i.getBillingReason()));
    }
    return out;
  }

  @Override
  public PaymentResult chargeOffSession(String customerId, String paymentMethodId, long amount, String currency,
                                        Map<String, String> metadata, String idempotencyKey) throws BillingFailure {
    String paymentMethod = paymentMethodId != null ? paymentMethodId : defaultPaymentMethod(customerId);
    PaymentIntentCreateParams params = PaymentIntentCreateParams.builder().setCustomer(customerId).setPaymentMethod(paymentMethod)
        .setAmount(amount).setCurrency(currency).setConfirm(true).setOffSession(true)
        // Nobody is there to follow a redirect: only methods that can be charged in place qualify.
        .setAutomaticPaymentMethods(PaymentIntentCreateParams.AutomaticPaymentMethods.builder().setEnabled(true)
            .setAllowRedirects(PaymentIntentCreateParams.AutomaticPaymentMethods.AllowRedirects.NEVER).build())
        .putAllMetadata(metadata == null ? Map.of() : metadata).build();
    PaymentIntent intent = call("off-session charge of " + amount + " " + currency + " to " + customerId,
        () -> client.v1().paymentIntents().create(params, idempotent(idempotencyKey)));
    return new PaymentResult(intent.getId(), intent.getStatus());
  }

  private String defaultPaymentMethod(String customerId) throws BillingFailure {
    Customer customer = call("customer lookup of " + customerId, () -> client.v1().customers().retrieve(customerId));
    String method = customer.getInvoiceSettings() == null ? null : customer.getInvoiceSettings().getDefaultPaymentMethod();
    if (method == null) {
      throw new BillingFailure(BillingFailure.Kind.PERMANENT, "Stripe customer " + customerId
          + " has no default payment method (invoice_settings.default_payment_method) to charge off-session", null,
          "no_default_payment_method", null, null, null);
    }
    return method;
  }

  @Override
  public SubscriptionInfo retrieveSubscription(String subscriptionId) throws BillingFailure {
    return info(call("subscription lookup of " + subscriptionId, () -> client.v1().subscriptions().retrieve(subscriptionId)));
  }

  @Override
  public List<SubscriptionInfo> liveSubscriptions(String customerId) throws BillingFailure {
    SubscriptionListParams params = SubscriptionListParams.builder().setCustomer(customerId)
        .setStatus(SubscriptionListParams.Status.ALL).setLimit(100L).build();
    List<SubscriptionInfo> out = new ArrayList<>();
    for (Subscription s : call("subscription list of " + customerId, () -> client.v1().subscriptions().list(params)).getData()) {
      if (LIVE.contains(s.getStatus())) {
        out.add(info(s));
      }
    }
    return out;
  }

  /** One item change of a plan change: keep ({@code deleted} false, no price), remove, or add a price. */
  private record ItemChange(String itemId, String priceId, Long quantity, boolean deleted) {
  }

  /**
   * The item changes that move {@code s} to {@code prices}: an item whose price stays is left alone
   * (its usage and period continue), any other is removed, and each new price is added.
   */
  private static List<ItemChange> itemChanges(Subscription s, List<CheckoutRequest.LineItem> prices) {
    List<ItemChange> out = new ArrayList<>();
    java.util.Set<String> kept = new java.util.HashSet<>();
    for (SubscriptionItem item : s.getItems() == null ? List.<SubscriptionItem>of() : s.getItems().getData()) {
      String price = item.getPrice() == null ? null : item.getPrice().getId();
      if (prices.stream().anyMatch(p -> p.priceId().equals(price))) {
        kept.add(price);
      } else {
        out.add(new ItemChange(item.getId(), null, null, true));
      }
    }
    for (CheckoutRequest.LineItem p : prices) {
      if (!kept.contains(p.priceId())) {
        out.add(new ItemChange(null, p.priceId(), p.quantity(), false));
      }
    }
    return out;
  }

  @Override
  public PlanChangePreview previewPriceChange(String subscriptionId, List<CheckoutRequest.LineItem> prices, Instant prorationDate)
      throws BillingFailure {
    Subscription s = call("subscription lookup of " + subscriptionId, () -> client.v1().subscriptions().retrieve(subscriptionId));
    InvoiceCreatePreviewParams.SubscriptionDetails.Builder details = InvoiceCreatePreviewParams.SubscriptionDetails.builder()
        .setProrationBehavior(InvoiceCreatePreviewParams.SubscriptionDetails.ProrationBehavior.ALWAYS_INVOICE)
        .setProrationDate(prorationDate.getEpochSecond());
    for (ItemChange c : itemChanges(s, prices)) {
      InvoiceCreatePreviewParams.SubscriptionDetails.Item.Builder item = InvoiceCreatePreviewParams.SubscriptionDetails.Item.builder();
      if (c.deleted()) {
        item.setId(c.itemId()).setDeleted(true);
      } else {
        item.setPrice(c.priceId());
        if (c.quantity() != null) {
          item.setQuantity(c.quantity());
        }
      }
      details.addItem(item.build());
    }
    InvoiceCreatePreviewParams params = InvoiceCreatePreviewParams.builder().setCustomer(s.getCustomer()).setSubscription(subscriptionId)
        .setSubscriptionDetails(details.build()).build();
    Invoice preview = call("invoice preview of a price change of " + subscriptionId, () -> client.v1().invoices().createPreview(params));
    List<PlanChangePreview.Line> lines = new ArrayList<>();
    for (com.stripe.model.InvoiceLineItem l : preview.getLines() == null ? List.<com.stripe.model.InvoiceLineItem>of()
        : preview.getLines().getData()) {
      String price = l.getPricing() == null || l.getPricing().getPriceDetails() == null ? null : l.getPricing().getPriceDetails().getPrice();
      boolean proration = l.getParent() != null && l.getParent().getSubscriptionItemDetails() != null
          && Boolean.TRUE.equals(l.getParent().getSubscriptionItemDetails().getProration());
      lines.add(new PlanChangePreview.Line(l.getDescription(), orZero(l.getAmount()), price, proration,
          l.getPeriod() == null ? null : instant(l.getPeriod().getStart()), l.getPeriod() == null ? null : instant(l.getPeriod().getEnd())));
    }
    return new PlanChangePreview(subscriptionId, orZero(preview.getAmountDue()), orZero(preview.getTotal()), preview.getCurrency(),
        Instant.ofEpochSecond(prorationDate.getEpochSecond()), lines);
  }

  @Override
  public SubscriptionInfo changePrices(String subscriptionId, List<CheckoutRequest.LineItem> prices, Instant prorationDate,
                                       String idempotencyKey) throws BillingFailure {
    Subscription s = call("subscription lookup of " + subscriptionId, () -> client.v1().subscriptions().retrieve(subscriptionId));
    SubscriptionUpdateParams.Builder params = SubscriptionUpdateParams.builder()
        .setProrationBehavior(SubscriptionUpdateParams.ProrationBehavior.ALWAYS_INVOICE)
        .setProrationDate(prorationDate.getEpochSecond())
        // A declined card refuses the whole change (HTTP 402): the plan is never changed without its payment.
        .setPaymentBehavior(SubscriptionUpdateParams.PaymentBehavior.ERROR_IF_INCOMPLETE);
    for (ItemChange c : itemChanges(s, prices)) {
      SubscriptionUpdateParams.Item.Builder item = SubscriptionUpdateParams.Item.builder();
      if (c.deleted()) {
        item.setId(c.itemId()).setDeleted(true);
      } else {
        item.setPrice(c.priceId());
        if (c.quantity() != null) {
          item.setQuantity(c.quantity());
        }
      }
      params.addItem(item.build());
    }
    return info(call("price change of subscription " + subscriptionId,
        () -> client.v1().subscriptions().update(subscriptionId, params.build(), idempotent(idempotencyKey))));
  }

  @Override
  public SubscriptionInfo cancelAtPeriodEnd(String subscriptionId, boolean cancel, String idempotencyKey) throws BillingFailure {
    SubscriptionUpdateParams params = SubscriptionUpdateParams.builder().setCancelAtPeriodEnd(cancel).build();
    return info(call((cancel ? "cancellation at period end of " : "resumption of ") + subscriptionId,
        () -> client.v1().subscriptions().update(subscriptionId, params, idempotent(idempotencyKey))));
  }

  private static SubscriptionInfo info(Subscription s) {
    Long start = null;
    Long end = null;
    List<String> prices = new ArrayList<>();
    for (SubscriptionItem item : s.getItems() == null ? List.<SubscriptionItem>of() : s.getItems().getData()) {
      start = earliest(start, item.getCurrentPeriodStart());
      end = earliest(end, item.getCurrentPeriodEnd());
      if (item.getPrice() != null) {
        prices.add(item.getPrice().getId());
      }
    }
    return new SubscriptionInfo(s.getId(), s.getCustomer(), s.getStatus(), Boolean.TRUE.equals(s.getCancelAtPeriodEnd()),
        instant(start), instant(end), instant(s.getTrialEnd()), prices);
  }

  @Override
  public java.util.Optional<String> invoiceOfPayment(String paymentIntentId) throws BillingFailure {
    com.stripe.param.InvoicePaymentListParams params = com.stripe.param.InvoicePaymentListParams.builder()
        .setPayment(com.stripe.param.InvoicePaymentListParams.Payment.builder()
            .setType(com.stripe.param.InvoicePaymentListParams.Payment.Type.PAYMENT_INTENT).setPaymentIntent(paymentIntentId).build())
        .setLimit(1L).build();
    return call("invoice payment lookup of " + paymentIntentId, () -> client.v1().invoicePayments().list(params)).getData().stream()
        .map(com.stripe.model.InvoicePayment::getInvoice).filter(Objects::nonNull).findFirst();
  }

  @Override
  public PriceInfo retrievePrice(String priceId) throws BillingFailure {
    com.stripe.model.Price p = call("price lookup of " + priceId, () -> client.v1().prices().retrieve(priceId));
    com.stripe.model.Price.Recurring r = p.getRecurring();
    return new PriceInfo(p.getId(), Boolean.TRUE.equals(p.getActive()), p.getCurrency(), p.getUnitAmount(), p.getType(),
        r == null ? null : r.getInterval(), r == null ? null : r.getIntervalCount(), r == null ? null : r.getUsageType(), p.getNickname());
  }

  @Override
  public String retrieveEventJson(String eventId) throws BillingFailure {
    // The raw JSON as Stripe sends it: the typed model has no getters for a meter error report's counts.
    return call("event lookup of " + eventId, () -> client.rawRequest(com.stripe.net.ApiResource.RequestMethod.GET,
        "/v2/core/events/" + java.net.URLEncoder.encode(eventId, java.nio.charset.StandardCharsets.UTF_8), null)).body();
  }

  // ---- helpers

  /** One stripe-java call. */
  @FunctionalInterface
  private interface StripeCall<T> {
    T run() throws StripeException;
  }

  private <T> T call(String what, StripeCall<T> call) throws BillingFailure {
    try {
      return call.run();
    } catch (StripeException e) {
      throw classify(what, e);
    }
  }

  private static RequestOptions idempotent(String key) {
    return RequestOptions.builder().setIdempotencyKey(Objects.requireNonNull(key, "idempotencyKey")).build();
  }

  private BillingFailure classify(String what, StripeException e) {
    Integer status = e.getStatusCode();
    StripeError error = e.getStripeError();
    String code = e.getCode();
    String paymentIntent = error != null && error.getPaymentIntent() != null ? error.getPaymentIntent().getId() : null;
    if (e instanceof ApiConnectionException) {
      Throwable cause = e.getCause();
      String reason = cause == null ? e.getClass().getSimpleName() : cause.getClass().getSimpleName() + (cause.getMessage() == null ? "" : ": " + cause.getMessage());
      return new BillingFailure(BillingFailure.Kind.TRANSIENT, scrub("Stripe " + what + " failed: no answer (" + reason + ")"), null, null, null, null, cause);
    }
    String message = scrub("Stripe " + what + " failed" + (status == null ? "" : ": HTTP " + status) + (code == null ? "" : " " + code)
        + (error != null && error.getDeclineCode() != null ? " (" + error.getDeclineCode() + ")" : "")
        + (error != null && error.getMessage() != null ? ": " + error.getMessage() : "")
        + (e.getRequestId() == null ? "" : " [request " + e.getRequestId() + "]"));
    if (e instanceof CardException card) {
      boolean authentication = "authentication_required".equals(code) || "authentication_required".equals(card.getDeclineCode());
      return new BillingFailure(authentication ? BillingFailure.Kind.AUTHENTICATION_REQUIRED : BillingFailure.Kind.CARD_DECLINED,
          message, status, code, card.getDeclineCode(), paymentIntent, null);
    }
    BillingFailure.Kind kind;
    if (e instanceof RateLimitException || (status != null && status == 429)) {
      kind = BillingFailure.Kind.RATE_LIMITED;
    } else if (status == null || status >= 500 || status == 409 || e instanceof AuthenticationException
        || e instanceof PermissionException) {
      // 401/403 are a configuration problem, not the request's: it will work once the key is fixed.
      kind = BillingFailure.Kind.TRANSIENT;
    } else {
      kind = BillingFailure.Kind.PERMANENT;
    }
    return new BillingFailure(kind, message, status, code, error == null ? null : error.getDeclineCode(), paymentIntent, null);
  }

  private String scrub(String message) {
    return KEY_LIKE.matcher(message.replace(apiKey.reveal(), "[key]")).replaceAll("[key]");
  }

  private static Long earliest(Long a, Long b) {
    return a == null ? b : b == null ? a : Math.min(a, b);
  }

  private static Instant instant(Long epochSeconds) {
    return epochSeconds == null ? null : Instant.ofEpochSecond(epochSeconds);
  }

  private static long orZero(Long value) {
    return value == null ? 0 : value;
  }
}
