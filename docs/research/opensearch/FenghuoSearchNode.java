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
 * A single-node OpenSearch for tests: the server and its modules loaded from the classpath
 * (no distribution layout, no plugin descriptors, no security manager).
 *
 * Usage: java -cp 'lib/*:classes' FenghuoSearchNode HOME HTTP_PORT [TRANSPORT_PORT]
 * Stops cleanly on SIGTERM/SIGINT (shutdown hook closes the node).
 */
public final class FenghuoSearchNode {

    /** Node's constructor that takes classpath plugins is protected: expose it. */
    static final class ClasspathNode extends Node {
        ClasspathNode(Environment environment, List<Class<? extends Plugin>> plugins) {
            super(environment, plugins, true);
        }
    }

    public static void main(String[] args) throws Exception {
        Path home = Path.of(args[0]).toAbsolutePath();
        int httpPort = Integer.parseInt(args[1]);
        int transportPort = args.length > 2 ? Integer.parseInt(args[2]) : httpPort + 100;
        Path config = home.resolve("config");
        Files.createDirectories(config);
        Files.createDirectories(home.resolve("data"));
        Files.createDirectories(home.resolve("logs"));

        Settings settings = Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("cluster.name", "fenghuo-test")
            .put("node.name", "fenghuo-test-node")
            .put("discovery.type", "single-node")
            .put("network.host", "127.0.0.1")
            .put("http.port", httpPort)
            .put("transport.port", transportPort)
            // A test node must not turn read-only when the CI disk fills up.
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("action.auto_create_index", true)
            .build();

        Path log4j = config.resolve("log4j2.properties");
        if (!Files.exists(log4j)) {
            Files.writeString(log4j, String.join("\n",
                "status = error",
                "appender.console.type = Console",
                "appender.console.name = console",
                "appender.console.layout.type = PatternLayout",
                "appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%n",
                "rootLogger.level = info",
                "rootLogger.appenderRef.console.ref = console",
                "logger.deprecation.name = org.opensearch.deprecation",
                "logger.deprecation.level = error",
                ""));
        }

        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            settings, Map.of(), config, () -> "fenghuo-test-node");
        LogConfigurator.registerErrorListener();
        LogConfigurator.setNodeName("fenghuo-test-node");
        LogConfigurator.configure(environment);
        List<Class<? extends Plugin>> plugins = new ArrayList<>(List.of(
            Netty4Plugin.class,          // HTTP and transport
            CommonAnalysisPlugin.class,  // pattern analyzer, most token filters
            ReindexPlugin.class,         // _delete_by_query, _update_by_query, _reindex
            MapperExtrasPlugin.class));  // scaled_float, rank_feature, search_as_you_type, ...
        if (Boolean.parseBoolean(System.getProperty("fenghuo.node.painless", "true"))) {
            plugins.add(PainlessPlugin.class);  // scripts (about 5 s of the start-up)
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
        // One node: new indices get no replica, so they are green. A persistent cluster setting
        // (as a node setting it is ignored); kept in path.data, so set again at each start.
        node.client().admin().cluster().prepareUpdateSettings()
            .setPersistentSettings(Settings.builder().put("cluster.default_number_of_replicas", 0))
            .get();
        System.out.println("fenghuo-search-node started http://127.0.0.1:" + httpPort);
        stopped.await();
    }
}
