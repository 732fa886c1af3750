// Stand-in for LocalStack's ddb-local-loader-0.1.jar.
//
// LocalStack starts DynamoDB Local with -javaagent:<dynamodb-local dir>/ddb-local-loader-0.1.jar.
// Its own agent (downloaded on first use, which fails offline) patches DynamoDB Local to allow
// more than 20 GSIs. We do not need that patch: an agent with an empty premain is enough for
// the JVM to start. install.sh compiles this with the system JDK (javac + jar).
import java.lang.instrument.Instrumentation;

public final class DdbLocalLoader {
    private DdbLocalLoader() {}

    public static void premain(String agentArgs, Instrumentation inst) {
        // intentionally empty
    }
}
