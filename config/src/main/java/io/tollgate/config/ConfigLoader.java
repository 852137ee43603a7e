package io.tollgate.config;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.AbstractConstruct;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * The one way to get a {@link TollgateConfig}: finds and reads {@code tollgate.yaml}, applies
 * environment overrides and secrets, and validates everything, throwing a single
 * {@link ConfigException} that lists every problem. Defaults live in {@code Defaults}; the
 * reference is docs/configuration.md.
 */
public final class ConfigLoader {

  /** The file used when neither {@code --config} nor {@code TOLLGATE_CONFIG} names one, if it exists. */
  public static final Path DEFAULT_FILE = Path.of("tollgate.yaml");

  private static final Logger log = LoggerFactory.getLogger(ConfigLoader.class);
  private static final String USAGE = "usage: tollgate [--config FILE]";

  private ConfigLoader() {
  }

  /**
   * Resolves the file from {@code args} ({@code --config FILE} or {@code --config=FILE}), else the
   * {@code TOLLGATE_CONFIG} variable; if neither names one, uses {@code ./tollgate.yaml} when it
   * exists, else pure defaults. A file that is named but missing is an error, never a silent fallback.
   *
   * @throws ConfigException listing every problem, including unknown command-line arguments
   */
  public static TollgateConfig load(String[] args, Map<String, String> env) {
    return load(args, env, DEFAULT_FILE);
  }

  /** {@link #load(String[], Map)} with the default file elsewhere than the working directory, for tests. */
  static TollgateConfig load(String[] args, Map<String, String> env, Path defaultFile) {
    Problems problems = new Problems();
    Optional<Path> file = fromArgs(args, problems);
    problems.throwIfAny();
    String namedBy = "--config";
    if (file.isEmpty()) {
      namedBy = "TOLLGATE_CONFIG";
      file = new Environment(env, problems).get("TOLLGATE_CONFIG").map(Path::of);
    }
    if (file.isEmpty() && Files.isRegularFile(defaultFile)) {
      namedBy = "the default location";
      file = Optional.of(defaultFile);
    }
    return load(file, env, namedBy);
  }

  /**
   * Reads the given file, or applies pure defaults when empty; environment overrides and secrets
   * come from {@code env} either way.
   *
   * @throws ConfigException listing every problem; a missing file is one
   */
  public static TollgateConfig load(Optional<Path> file, Map<String, String> env) {
    return load(file, env, null);
  }

  /**
   * Parses YAML text as if read from a file called {@code sourceName} (the name problems start
   * with); for tests and tools. The result has no {@link TollgateConfig#source()}.
   *
   * @throws ConfigException listing every problem
   */
  public static TollgateConfig fromYaml(String yaml, String sourceName, Map<String, String> env) {
    return parse(yaml, sourceName, env, Optional.empty());
  }

  private static TollgateConfig load(Optional<Path> file, Map<String, String> env, String namedBy) {
    if (file.isEmpty()) {
      log.info("No configuration file: using defaults and the environment");
      return parse("", "(defaults)", env, Optional.empty());
    }
    Path path = file.get();
    String source = path.toString();
    String origin = namedBy == null ? "" : " (named by " + namedBy + ")";
    if (Files.isDirectory(path)) {
      throw new ConfigException(List.of(source + ": is a directory, not a configuration file" + origin));
    }
    if (!Files.exists(path)) {
      throw new ConfigException(List.of(source + ": configuration file not found" + origin
          + "; working directory is " + Path.of("").toAbsolutePath()));
    }
    String yaml;
    try {
      yaml = Files.readString(path);
    } catch (CharacterCodingException e) {
      throw new ConfigException(List.of(source + ": cannot read configuration file: not UTF-8 text"));
    } catch (IOException e) {
      throw new ConfigException(List.of(source + ": cannot read configuration file: " + e));
    }
    log.info("Reading configuration from {}", path.toAbsolutePath());
    return parse(yaml, source, env, Optional.of(path));
  }

  private static Optional<Path> fromArgs(String[] args, Problems problems) {
    Optional<Path> file = Optional.empty();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      String value = null;
      if (arg.equals("--config")) {
        value = i + 1 < args.length ? args[++i] : "";
      } else if (arg.startsWith("--config=")) {
        value = arg.substring("--config=".length());
      } else {
        problems.at(Problems.COMMAND_LINE, "", "unknown argument " + YamlSection.describe(arg) + " (" + USAGE + ")");
        continue;
      }
      if (value.isBlank()) {
        problems.at(Problems.COMMAND_LINE, "", "--config needs a file (" + USAGE + ")");
      } else {
        file = Optional.of(Path.of(value));
      }
    }
    return file;
  }

  private static TollgateConfig parse(String yaml, String source, Map<String, String> env, Optional<Path> file) {
    Problems problems = new Problems();
    Map<?, ?> root = readYaml(yaml, source, problems);
    return ConfigReader.read(root, source, env, problems, file);
  }

  /** The document's top-level mapping; a syntax error or another shape is a problem and reads as empty. */
  private static Map<?, ?> readYaml(String yaml, String source, Problems problems) {
    LoaderOptions options = new LoaderOptions();
    options.setAllowDuplicateKeys(false);
    try {
      // SafeConstructor: plain maps, lists and scalars only; a config file never instantiates classes.
      Object loaded = new Yaml(new ExactDecimals(options)).load(yaml);
      if (loaded == null) {
        return Map.of();
      }
      if (loaded instanceof Map<?, ?> map) {
        return map;
      }
      problems.at(source, "", "expected a YAML mapping (key: value) at the top level, got " + YamlSection.describe(loaded));
    } catch (MarkedYAMLException e) {
      problems.at(source, "", syntaxProblem(e));
    } catch (YAMLException e) {
      problems.at(source, "", "invalid YAML: " + e.getMessage());
    }
    return Map.of();
  }

  /**
   * SafeConstructor whose decimal numbers are BigDecimals read from the text as written, not
   * doubles: {@code 2.5} credits must reach {@link Credits} as exactly 2.5, and {@code 0.0015} must
   * be refused for its fourth decimal rather than rounded by binary floating point first.
   * {@code .inf} and {@code .nan} stay doubles (and are refused wherever a number is expected).
   */
  private static final class ExactDecimals extends SafeConstructor {

    ExactDecimals(LoaderOptions options) {
      super(options);
      AbstractConstruct doubles = (AbstractConstruct) yamlConstructors.get(Tag.FLOAT);
      yamlConstructors.put(Tag.FLOAT, new AbstractConstruct() {
        @Override
        public Object construct(Node node) {
          String text = constructScalar((ScalarNode) node).replace("_", "");
          try {
            return new BigDecimal(text);
          } catch (NumberFormatException notPlainDecimal) {
            return doubles.construct(node);
          }
        }
      });
    }
  }

  /**
   * "invalid YAML at line L, column C: problem". Built from the parts, not getMessage(), because
   * the full message quotes a snippet of the file, which could hold anything.
   */
  private static String syntaxProblem(MarkedYAMLException e) {
    Mark mark = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
    String where = mark == null ? "" : " at line " + (mark.getLine() + 1) + ", column " + (mark.getColumn() + 1);
    String what = e.getProblem() != null ? e.getProblem() : e.getContext();
    return "invalid YAML" + where + ": " + what;
  }
}
