package io.tollgate.gateway;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * A real headless Chromium for console tests: the system's browser and driver (Debian's
 * {@code chromium} and {@code chromium-driver}, or {@code CHROME_BIN}/{@code CHROMEDRIVER}),
 * never a download. Without them the browser tests are skipped with the reason stated; CI
 * installs both ({@code .ci/run}) so they always run there.
 */
final class ConsoleBrowser implements AutoCloseable {

  final ChromeDriver driver;
  final WebDriverWait wait;
  private final Path screenshots;

  private ConsoleBrowser(ChromeDriver driver, Path screenshots) {
    this.driver = driver;
    this.wait = new WebDriverWait(driver, Duration.ofSeconds(15));
    this.screenshots = screenshots;
  }

  /** Starts headless Chromium, or aborts the calling test (a JUnit assumption) when the machine has none. */
  static ConsoleBrowser start() {
    Optional<String> browser = find("CHROME_BIN", List.of("chromium", "chromium-browser", "google-chrome"),
        List.of("/usr/lib/chromium/chromium"));
    Optional<String> driverExe = find("CHROMEDRIVER", List.of("chromedriver"), List.of("/usr/lib/chromium/chromedriver"));
    Assumptions.assumeTrue(browser.isPresent() && driverExe.isPresent(),
        "browser tests need Chromium and its driver on this machine (Debian: apt-get install -y chromium chromium-driver; "
            + ".ci/run installs them); found browser=" + browser.orElse("none") + ", driver=" + driverExe.orElse("none"));
    ChromeOptions options = new ChromeOptions();
    options.setBinary(browser.get());
    options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1000",
        "--lang=en-US");
    ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(new File(driverExe.get()))
        .usingAnyFreePort().build();
    String dir = System.getProperty("console.screenshots");
    return new ConsoleBrowser(new ChromeDriver(service, options), dir == null || dir.isBlank() ? null : Path.of(dir));
  }

  private static Optional<String> find(String env, List<String> names, List<String> fallbacks) {
    String given = System.getenv(env);
    if (given != null && Files.isExecutable(Path.of(given))) {
      return Optional.of(given);
    }
    String path = System.getenv("PATH") == null ? "" : System.getenv("PATH");
    for (String name : names) {
      for (String dir : path.split(File.pathSeparator)) {
        Path candidate = Path.of(dir, name);
        if (Files.isExecutable(candidate)) {
          return Optional.of(candidate.toString());
        }
      }
    }
    return fallbacks.stream().filter(f -> Files.isExecutable(Path.of(f))).findFirst();
  }

  /** Saves a PNG of the window when screenshots were asked for ({@code -Dconsole.screenshots=DIR}). */
  void screenshot(String name) {
    if (screenshots == null) {
      return;
    }
    try {
      Files.createDirectories(screenshots);
      Files.write(screenshots.resolve(name + ".png"), driver.getScreenshotAs(OutputType.BYTES));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** Saves the current page (screenshot and HTML) under {@code dir}, for a failed test's report. */
  void evidence(Path dir, String name) {
    try {
      Files.createDirectories(dir);
      Files.write(dir.resolve(name + ".png"), driver.getScreenshotAs(OutputType.BYTES));
      Files.writeString(dir.resolve(name + ".html"), driver.getCurrentUrl() + "\n" + driver.getPageSource());
    } catch (RuntimeException | java.io.IOException e) {
      // Best effort: the test's own failure is what matters.
    }
  }

  /** Renders following {@code prefers-color-scheme: dark} (true) or the default (false). */
  void darkMode(boolean dark) {
    driver.executeCdpCommand("Emulation.setEmulatedMedia", java.util.Map.of("features",
        List.of(java.util.Map.of("name", "prefers-color-scheme", "value", dark ? "dark" : "light"))));
  }

  void windowSize(int width, int height) {
    driver.manage().window().setSize(new org.openqa.selenium.Dimension(width, height));
  }

  @Override
  public void close() {
    driver.quit();
  }
}
