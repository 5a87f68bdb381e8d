import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * Fenghuo's single-node OpenSearch 2.19.6 (fenghuo/store/search_node.py runs it): the server and
 * its modules loaded from the classpath, without the distribution's layout, plugin descriptors or
 * security manager, so it runs from Maven Central jars and as root (as CI does).
 *
 * Usage: java -cp 'JARS/*:CLASSES' FenghuoSearchNode HOME HTTP_PORT TRANSPORT_PORT
 *
 * HOME holds config/ (log4j2.properties, rewritten at each start), data/ and logs/ (the node's
 * log, rolled by size; warnings and errors also go to standard output). Once the node is started
 * and new indices get no replica, it prints "fenghuo-search-node started http://..." to standard
 * output; if it cannot start, the JVM exits with 1 after a last line "fenghuo-search-node failed:
 * ..." naming the causes on standard error. SIGTERM or SIGINT closes the node (the JVM then exits
 * with 143 or 130).
 */
public final class FenghuoSearchNode {

    static final String STARTED = "fenghuo-search-node started";
    static final String FAILED = "fenghuo-search-node failed";
    // LogConfigurator sends System.out and System.err to loggers: keep the real ones for the
    // started and failed lines.
    static final PrintStream STDOUT = System.out;
    static final PrintStream STDERR = System.err;
    static final String NODE_NAME = "fenghuo-search-node";

    /** Node's constructor that takes classpath plugins is protected: expose it. */
    static final class ClasspathNode extends Node {
        ClasspathNode(Environment environment, List<Class<? extends Plugin>> plugins) {
            super(environment, plugins, true);
        }
    }

    static final String LOG4J2 = String.join("\n",
        "# Written by FenghuoSearchNode at every start.",
        "status = error",
        "appender.console.type = Console",
        "appender.console.name = console",
        "appender.console.layout.type = PatternLayout",
        "appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%n",
        "appender.console.filter.threshold.type = ThresholdFilter",
        "appender.console.filter.threshold.level = warn",
        "appender.file.type = RollingFile",
        "appender.file.name = file",
        "appender.file.fileName = ${sys:opensearch.logs.base_path}/opensearch.log",
        "appender.file.filePattern = ${sys:opensearch.logs.base_path}/opensearch.log.%i",
        "appender.file.layout.type = PatternLayout",
        "appender.file.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%n",
        "appender.file.policies.type = Policies",
        "appender.file.policies.size.type = SizeBasedTriggeringPolicy",
        "appender.file.policies.size.size = 20MB",
        "appender.file.strategy.type = DefaultRolloverStrategy",
        "appender.file.strategy.max = 5",
        "rootLogger.level = info",
        "rootLogger.appenderRef.console.ref = console",
        "rootLogger.appenderRef.file.ref = file",
        "logger.deprecation.name = org.opensearch.deprecation",
        "logger.deprecation.level = error",
        "");

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: FenghuoSearchNode HOME HTTP_PORT TRANSPORT_PORT");
            System.exit(2);
        }
        try {
            run(Path.of(args[0]).toAbsolutePath(), Integer.parseInt(args[1]),
                Integer.parseInt(args[2]));
        } catch (Throwable e) {
            // The node's own threads would keep a half-started JVM alive: exit instead, with the
            // causes on one last line (the end of a stack trace rarely says what went wrong).
            e.printStackTrace();
            StringBuilder causes = new StringBuilder(FAILED);
            for (Throwable t = e; t != null; t = t.getCause()) {
                causes.append(t == e ? ": " : "; caused by ").append(t);
            }
            STDERR.println(causes);
            STDERR.flush();
            System.exit(1);
        }
    }

    static void run(Path home, int httpPort, int transportPort) throws Exception {
        Path config = home.resolve("config");
        Path logs = home.resolve("logs");
        Files.createDirectories(config);
        Files.createDirectories(home.resolve("data"));
        Files.createDirectories(logs);
        Files.writeString(config.resolve("log4j2.properties"), LOG4J2);

        Settings settings = Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", logs.toString())
            .put("cluster.name", "fenghuo")
            .put("node.name", NODE_NAME)
            .put("discovery.type", "single-node")
            .put("network.host", "127.0.0.1")
            .put("http.port", httpPort)
            .put("transport.port", transportPort)
            // A lone node must not turn its indices read-only when the disk fills up.
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("action.auto_create_index", true)
            .build();

        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            settings, Map.of(), config, () -> NODE_NAME);
        LogConfigurator.registerErrorListener();
        LogConfigurator.setNodeName(NODE_NAME);
        LogConfigurator.configure(environment);
        List<Class<? extends Plugin>> plugins = new ArrayList<>(List.of(
            Netty4Plugin.class,          // HTTP and transport
            CommonAnalysisPlugin.class,  // pattern analyzer, most token filters
            ReindexPlugin.class,         // _delete_by_query, _update_by_query, _reindex
            MapperExtrasPlugin.class));  // scaled_float, rank_feature, search_as_you_type, ...
        if (Boolean.parseBoolean(System.getProperty("fenghuo.node.painless", "true"))) {
            plugins.add(PainlessPlugin.class);  // scripts
        }
        Node node = new ClasspathNode(environment, plugins);

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "fenghuo-node-shutdown"));
        node.start();
        // One node: new indices get no replica, so they turn green. A persistent cluster setting
        // (as a node setting it is ignored); kept in path.data, set again at each start.
        node.client().admin().cluster().prepareUpdateSettings()
            .setPersistentSettings(Settings.builder().put("cluster.default_number_of_replicas", 0))
            .get();
        STDOUT.println(STARTED + " http://127.0.0.1:" + httpPort);
        STDOUT.flush();
        stopped.await();
    }
}
