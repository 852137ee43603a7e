package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.stripesync.fake.FakeStripe;
import io.tollgate.stripesync.fake.StripeObjects;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;

/**
 * The console in a real headless Chromium: an operator signs in, creates an account and a key,
 * grants credits, revokes the key and reads the usage chart; a customer link shows its account
 * and nothing of another. With {@code -Dconsole.screenshots=DIR} it also saves the README's
 * screenshots (light, dark, phone width).
 */
@DisplayName("Console in a headless browser")
class ConsoleBrowserTest {

  private static GatewayHarness harness;
  private static Tollgate gateway;
  private static Vertx vertx;
  private static ConsoleBrowser browser;

  /** On a failure, the page as the browser had it goes to target/console-failures/ (a PNG and its HTML). */
  @org.junit.jupiter.api.extension.RegisterExtension
  static final org.junit.jupiter.api.extension.TestExecutionExceptionHandler EVIDENCE = (context, error) -> {
    if (browser != null) {
      browser.evidence(java.nio.file.Path.of("target", "console-failures"), context.getRequiredTestMethod().getName());
    }
    throw error;
  };

  private static final String STRIPE_KEY = "sk_test_console_browser_0123456789";
  private static FakeStripe stripe;

  @BeforeAll
  static void start() {
    browser = ConsoleBrowser.start();
    harness = new GatewayHarness();
    vertx = harness.stubVertx;
    stripe = await(new FakeStripe(vertx, STRIPE_KEY).start());
    stripe.definePrice(StripeObjects.price("price_pro").licensed().unitAmount(2000));
    // Every request costs exactly 7 credits (no token pricing), so the chart's figures are known in advance.
    gateway = GatewayHarness.start("""
        routes:
          - prefix: /v1/
            upstream: %s/v1/
            usage: openai
            flatCost: 7
        pricing:
          default: { input: 0, output: 0 }
        tiers: { small: 1, medium: 2.5, large: 5, xl: 15 }
        actions:
          agent_run: small
          image: { tier: medium }
        plans:
          free: { requestsPerMinute: 600, tokensPerMinute: 400000, includedCredits: 1000,
                  allowances: { small: 10, medium: 4, large: 2, xl: 1 } }
          pro: { requestsPerMinute: 600, tokensPerMinute: 400000, includedCredits: 5000, stripePrices: [price_pro] }
        billing:
          checkoutSuccessUrl: https://app.example.com/billing/done
          checkoutCancelUrl: https://app.example.com/billing
        stripe: { apiBase: "%s", meterEventsBase: "%s", syncIntervalMs: 3600000 }
        """.formatted(harness.stubBase(), stripe.baseUrl(), stripe.baseUrl()), Map.of("STRIPE_API_KEY", STRIPE_KEY));
  }

  @AfterAll
  static void stop() {
    if (browser != null) {
      browser.close();
    }
    if (gateway != null) {
      gateway.close();
    }
    if (stripe != null) {
      await(stripe.close());
    }
    if (harness != null) {
      harness.close();
    }
  }

  private String url(String path) {
    return "http://127.0.0.1:" + gateway.adminPort() + path;
  }

  private WebElement visible(By by) {
    return browser.wait.until(ExpectedConditions.visibilityOfElementLocated(by));
  }

  private void signIn() {
    // Each test starts signed out (the browser is shared).
    browser.driver.get(url("/console/sign-in"));
    browser.driver.manage().deleteAllCookies();
    browser.driver.get(url("/console/"));
    browser.wait.until(ExpectedConditions.urlContains("/console/sign-in"));
    visible(By.id("token")).sendKeys(GatewayHarness.ADMIN_TOKEN);
    browser.driver.findElement(By.cssSelector("form[action='/console/sign-in'] button")).click();
    browser.wait.until(ExpectedConditions.urlContains("/console/overview"));
    visible(By.id("stats"));
  }

  private static void chat(String key, String model) {
    JsonObject body = new JsonObject().put("model", model).put("max_tokens", 5)
        .put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", "hi")));
    HttpTestClient.Reply reply = await(new HttpTestClient(vertx).send(HttpMethod.POST, gateway.proxyPort(), "/v1/chat/completions",
        GatewayHarness.bearer(key), body.toBuffer()));
    assertThat(reply.status()).as(reply.text()).isEqualTo(200);
  }

  /** Flushes usage until the account's rollups hold {@code requests} requests (or fails after a deadline). */
  private static void awaitUsage(long account, long requests) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (System.nanoTime() < deadline) {
      await(gateway.services().jobs().flushUsage());
      JsonObject usage = GatewayHarness.adminCall(gateway, vertx, HttpMethod.GET, "/admin/v1/usage?accountId=" + account, null).json();
      if (usage.getJsonObject("totals").getLong("requests") >= requests) {
        return;
      }
      await(vertx.timer(100));
    }
    throw new AssertionError("usage of account " + account + " did not reach " + requests + " requests in time");
  }

  @Test
  @DisplayName("sign in, create an account and a key, grant credits, revoke the key, read the usage chart")
  void operatorFlow() {
    signIn();
    browser.screenshot("overview");
    browser.driver.findElement(By.linkText("Accounts")).click();
    visible(By.id("name")).sendKeys("Browser <b>Co</b>");
    browser.driver.findElement(By.id("initialCredits")).sendKeys("500");
    browser.driver.findElement(By.id("create-account")).click();
    WebElement heading = browser.wait.until(ExpectedConditions.presenceOfElementLocated(By.id("account-name")));
    // Markup in a name is shown as the text it is.
    assertThat(heading.getText()).isEqualTo("Browser <b>Co</b>");
    assertThat(browser.driver.findElements(By.cssSelector("#account-name b"))).isEmpty();
    String page = browser.driver.getCurrentUrl();
    long account = Long.parseLong(page.replaceAll("^.*/console/accounts/(\\d+).*$", "$1"));
    // 500 initial + the free plan's 1,000 included credits.
    assertThat(visible(By.id("balance")).getText()).isEqualTo("1,500");
    assertThat(browser.driver.findElement(By.id("no-keys")).getText()).contains("No keys yet");

    visible(By.id("key-name")).sendKeys("browser key");
    browser.driver.findElement(By.id("create-key")).click();
    String key = visible(By.id("new-key")).getText();
    assertThat(key).startsWith("tg_live_");
    assertThat(browser.driver.getCurrentUrl()).doesNotContain(key);

    for (int i = 0; i < 3; i++) {
      chat(key, "gpt-4o-mini");
    }
    chat(key, "claude-3-5-haiku");
    // Model names come from API clients: one that is markup must show as text in the chart and the table.
    chat(key, "<i>x</i>");
    awaitUsage(account, 5);

    visible(By.id("amount")).sendKeys("1234");
    browser.driver.findElement(By.id("reason")).sendKeys("browser grant");
    browser.driver.findElement(By.id("change-credits")).click();
    browser.wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("notice"), "Credits changed"));
    WebElement ledger = visible(By.id("ledger"));
    assertThat(ledger.getText()).contains("1,234").contains("browser grant").contains("console");
    // 1,500 - 5 requests × 7 + 1,234.
    assertThat(browser.driver.findElement(By.id("balance")).getText()).isEqualTo("2,699");

    WebElement revoke = browser.driver.findElement(By.cssSelector("#key-table button.danger"));
    revoke.click();
    browser.wait.until(ExpectedConditions.alertIsPresent()).accept();
    browser.wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("notice"), "Key revoked"));
    assertThat(visible(By.id("key-table")).getText()).contains("revoked");
    assertThat(browser.driver.findElements(By.cssSelector("#key-table button.danger"))).isEmpty();
    assertThat(await(new HttpTestClient(vertx, false, key).get(gateway.proxyPort(), "/v1/models")).status()).isEqualTo(401);

    // The usage chart: drawn (a canvas), a series per model, and the same figures in the table beside it.
    WebElement chart = visible(By.id("usage-chart"));
    browser.wait.until(d -> !chart.findElements(By.tagName("canvas")).isEmpty());
    assertThat(chart.findElement(By.tagName("canvas")).getSize().getWidth()).isGreaterThan(200);
    String legend = chart.findElement(By.cssSelector(".u-legend")).getText();
    assertThat(legend).contains("gpt-4o-mini").contains("claude-3-5-haiku").contains("<i>x</i>");
    assertThat(chart.findElements(By.cssSelector(".u-legend i"))).isEmpty();
    assertThat(browser.driver.findElements(By.cssSelector("#usage-table i"))).isEmpty();
    List<String> rows = browser.driver.findElements(By.cssSelector("#usage-table tbody tr")).stream().map(WebElement::getText).toList();
    assertThat(rows).anyMatch(r -> r.contains("gpt-4o-mini") && r.endsWith("3 21"))
        .anyMatch(r -> r.contains("claude-3-5-haiku") && r.endsWith("1 7")).anyMatch(r -> r.contains("<i>x</i>") && r.endsWith("1 7"));
    assertThat(browser.driver.findElement(By.id("usage-to-date")).getText()).isEqualTo("35");
    browser.screenshot("account");

    browser.darkMode(true);
    browser.driver.navigate().refresh();
    browser.wait.until(d -> !d.findElements(By.cssSelector("#usage-chart canvas")).isEmpty());
    String background = (String) browser.driver.executeScript("return getComputedStyle(document.body).backgroundColor");
    assertThat(background).isEqualTo("rgb(18, 19, 22)");
    browser.screenshot("account-dark");
    browser.darkMode(false);

    browser.windowSize(390, 844);
    browser.driver.navigate().refresh();
    visible(By.id("account-name"));
    Long scrollWidth = (Long) browser.driver.executeScript("return document.documentElement.scrollWidth");
    // Readable at phone width: the page itself does not scroll sideways (wide tables scroll in their own box).
    assertThat(scrollWidth).isLessThanOrEqualTo(390);
    browser.screenshot("account-phone");
    browser.windowSize(1280, 1000);

    // The customer page of the same account shows the same usage.
    browser.driver.get(page);
    visible(By.id("create-link")).click();
    browser.driver.get(visible(By.id("customer-link")).getAttribute("href"));
    assertThat(visible(By.id("account-name")).getText()).isEqualTo("Browser <b>Co</b>");
    browser.wait.until(d -> !d.findElements(By.cssSelector("#usage-chart canvas")).isEmpty());
    assertThat(browser.driver.findElement(By.id("usage-to-date")).getText()).isEqualTo("35");
    assertThat(browser.driver.findElement(By.id("key-table")).getText()).contains("revoked").doesNotContain(key);
    browser.screenshot("customer");
  }

  @Test
  @DisplayName("allowance bars per tier render on the account and customer page (3 of 10 small used, 7 left), the actions table beside the chart, and Upgrade opens a Stripe Checkout session")
  void allowancesAndUpgrade() {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "Bars Browser").put("initialCredits", 10));
    String key = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
    JsonArray batch = new JsonArray().add(new JsonObject().put("id", "browser-run-1").put("action", "agent_run").put("quantity", 3))
        .add(new JsonObject().put("id", "browser-image-1").put("action", "image").put("quantity", 1));
    HttpTestClient.Reply reported = await(new HttpTestClient(vertx, false, key).send(HttpMethod.POST, gateway.proxyPort(),
        "/tollgate/v1/events", io.vertx.core.MultiMap.caseInsensitiveMultiMap().add("content-type", "application/json"), batch.toBuffer()));
    assertThat(reported.status()).as(reported.text()).isEqualTo(200);
    awaitUsage(account, 2);

    signIn();
    browser.driver.get(url("/console/accounts/" + account));
    WebElement small = visible(By.cssSelector("#allowances [data-tier='small']"));
    assertThat(small.getText()).contains("small: 3 / 10 used, 7 left");
    assertThat(small.findElement(By.tagName("progress")).getAttribute("value")).isEqualTo("30");
    assertThat(visible(By.cssSelector("#allowances [data-tier='medium']")).getText()).contains("medium: 1 / 4 used, 3 left");
    assertThat(browser.driver.findElements(By.cssSelector("#allowances .allowance")).stream().map(e -> e.getAttribute("data-tier")).toList())
        .containsExactly("small", "medium", "large", "xl");
    browser.wait.until(d -> !d.findElements(By.cssSelector("#actions-chart canvas")).isEmpty());
    assertThat(visible(By.id("actions-table")).getText()).contains("agent_run small 3 3 0").contains("image medium 1 1 0");
    assertThat(visible(By.id("create-checkout")).isEnabled()).isTrue();
    browser.screenshot("account-allowances");

    visible(By.id("create-link")).click();
    browser.driver.get(visible(By.id("customer-link")).getAttribute("href"));
    assertThat(visible(By.cssSelector("#allowances [data-tier='small']")).getText()).contains("small: 3 / 10 used, 7 left");
    WebElement upgrade = visible(By.id("upgrade"));
    new Select(browser.driver.findElement(By.id("upgrade-plan"))).selectByValue("pro");
    browser.driver.executeScript("document.getElementById('invoices').scrollIntoView({block: 'center'})");
    browser.screenshot("customer-upgrade");
    int sessions = stripe.checkoutSessions();
    upgrade.click();
    // Off to Stripe's hosted page (not reachable from the test machine; the session is what counts).
    browser.wait.until(d -> stripe.checkoutSessions() == sessions + 1);
    browser.wait.until(d -> !d.getCurrentUrl().contains("/console/customer/"));
  }

  @Test
  @DisplayName("keyboard only: the token field has the focus, Enter signs in, Tab reaches the skip link first and then the navigation")
  void keyboard() {
    browser.driver.get(url("/console/sign-in"));
    browser.driver.manage().deleteAllCookies();
    browser.driver.get(url("/console/sign-in"));
    WebElement focused = browser.driver.switchTo().activeElement();
    assertThat(focused.getAttribute("id")).isEqualTo("token");
    focused.sendKeys(GatewayHarness.ADMIN_TOKEN + org.openqa.selenium.Keys.ENTER);
    browser.wait.until(ExpectedConditions.urlContains("/console/overview"));
    visible(By.id("stats"));
    new org.openqa.selenium.interactions.Actions(browser.driver).sendKeys(org.openqa.selenium.Keys.TAB).perform();
    assertThat(browser.driver.switchTo().activeElement().getText()).isEqualTo("Skip to content");
    new org.openqa.selenium.interactions.Actions(browser.driver).sendKeys(org.openqa.selenium.Keys.TAB, org.openqa.selenium.Keys.TAB)
        .perform();
    assertThat(browser.driver.switchTo().activeElement().getText()).isEqualTo("Overview");
  }

  @Test
  @DisplayName("the Admin API page renders Swagger UI over the admin API's OpenAPI document")
  void apiReference() {
    signIn();
    browser.driver.findElement(By.linkText("Admin API")).click();
    WebElement title = browser.wait.until(ExpectedConditions.visibilityOfElementLocated(By.cssSelector("#swagger-ui .info .title")));
    assertThat(title.getText()).contains("Tollgate");
    browser.wait.until(d -> d.findElements(By.cssSelector("#swagger-ui .opblock")).size() > 10);
    assertThat(browser.driver.findElement(By.id("swagger-ui")).getText()).contains("/admin/v1/accounts/{id}/customer-link");
  }

  @Test
  @DisplayName("a customer link shows its account only; another account's id in the URL shows nothing of it")
  void customerIsolation() {
    long alice = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "Alice Browser").put("initialCredits", 10));
    long bob = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "Bob Browser").put("initialCredits", 20));
    signIn();
    browser.driver.get(url("/console/accounts/" + alice));
    visible(By.id("create-link")).click();
    String link = visible(By.id("customer-link")).getAttribute("href");
    assertThat(link).contains("/console/customer/c1." + alice + ".");

    browser.driver.get(link);
    assertThat(visible(By.id("account-name")).getText()).isEqualTo("Alice Browser");
    assertThat(browser.driver.getPageSource()).doesNotContain("Bob Browser");

    for (String other : List.of(link + "?account=" + bob, link + "/" + bob, url("/console/customer/" + bob),
        link.replace("c1." + alice + ".", "c1." + bob + "."))) {
      browser.driver.get(other);
      assertThat(browser.driver.getPageSource()).as(other).doesNotContain("Bob Browser");
    }
    browser.driver.get(url("/console/customer/" + bob));
    assertThat(visible(By.id("problem")).getText()).contains("not valid");
  }
}
