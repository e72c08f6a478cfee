package io.mnemo.examples;

import io.mnemo.core.io.NpyFormatException;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.FileSystemException;
import java.util.Locale;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * The {@code mnemo} command line. Run it with {@code bin/mnemo} (which sets the JVM flags and
 * {@code OPENBLAS_CORETYPE}) or {@code mvn -pl examples exec:exec -Dexec.args="op --help"}.
 *
 * <p>Exit codes: 0 success; 2 bad usage or bad input (a one-line message on stderr, no stack trace);
 * 1 an unexpected internal error (with its stack trace).
 */
@Command(name = "mnemo", mixinStandardHelpOptions = true, versionProvider = Mnemo.Version.class,
        description = "Neural sequence models built from pluggable associative memories, on ND4J.",
        subcommands = {DemoCommand.class, TrainCommand.class, EvalCommand.class, RecallSweepCommand.class, RecallChartCommand.class,
            GenerateCommand.class, ListCommand.class, OpCommand.class, CommandLine.HelpCommand.class},
        footer = {"", "Run 'mnemo help <command>' or 'mnemo <command> --help' for a command's options."})
public final class Mnemo implements Runnable {
    /** Exit code for bad usage and bad input (picocli's usage-error code). */
    public static final int EXIT_BAD_INPUT = 2;

    @Spec
    CommandSpec spec;

    /** Without a sub-command: print the usage and fail like any other usage error. */
    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing a command; available: demo, train, eval, recall-sweep, recall-chart, generate, list, op");
    }

    /** Entry point of the shaded jar; the only place that calls {@link System#exit}. */
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs a command line with stdout / stderr and returns the exit code. */
    public static int run(String... args) {
        CommandLine cl = commandLine();
        try {
            return cl.execute(args);
        } finally {
            // picocli's writers flush on println only; a command's last print() would be lost at exit
            cl.getOut().flush();
            cl.getErr().flush();
        }
    }

    /** Runs a command line writing to {@code out} and {@code err} (for tests) and returns the exit code. */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = commandLine();
        cl.setOut(out);
        cl.setErr(err);
        try {
            return cl.execute(args);
        } finally {
            out.flush();
            err.flush();
        }
    }

    /** The configured picocli command (help footers, error handling). */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Mnemo());
        cl.getSubcommands().get("op").getCommandSpec().usageMessage().footer(OpCommand.helpFooter());
        cl.setExecutionExceptionHandler(new OneLineErrors());
        return cl;
    }

    /**
     * Bad input (wrong shapes, missing or unreadable files, unknown names) is reported as one line with
     * exit code 2; anything else is a bug and keeps its stack trace.
     */
    static final class OneLineErrors implements IExecutionExceptionHandler {
        @Override
        public int handleExecutionException(Exception ex, CommandLine cmd, CommandLine.ParseResult parsed) {
            String message = userMessage(ex);
            if (message == null) {
                ex.printStackTrace(cmd.getErr());
                return 1;
            }
            cmd.getErr().println("mnemo " + cmd.getCommandName() + ": " + message.replaceAll("\\s*\\R\\s*", " "));
            return EXIT_BAD_INPUT;
        }

        private static String userMessage(Throwable ex) {
            if (ex instanceof UncheckedIOException u) {
                ex = u.getCause();
            }
            if (ex instanceof io.mnemo.train.Trainer.DivergedException) {
                return ex.getMessage() + "; try a lower --lr or a tighter --clip";
            }
            if (ex instanceof NpyFormatException || ex instanceof IllegalArgumentException
                    || ex instanceof UnsupportedOperationException) {
                return String.valueOf(ex.getMessage());
            }
            if (ex instanceof FileSystemException f) {
                // NoSuchFileException and friends carry only the path as their message.
                String kind = f.getClass().getSimpleName().replace("Exception", "");
                return kind.replaceAll("([a-z])([A-Z])", "$1 $2").toLowerCase(Locale.ROOT) + ": " + f.getFile()
                        + (f.getReason() == null ? "" : " (" + f.getReason() + ")");
            }
            if (ex instanceof IOException) {
                return ex.getClass().getSimpleName() + ": " + ex.getMessage();
            }
            return null;
        }
    }

    /** {@code mnemo --version}: the project and ND4J versions, filtered into a resource at build time. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            Properties p = new Properties();
            try (InputStream in = Mnemo.class.getResourceAsStream("version.properties")) {
                if (in != null) {
                    p.load(in);
                }
            }
            return new String[] {
                "mnemo " + p.getProperty("version", "(unknown version)"),
                "ND4J " + p.getProperty("nd4j", "(unknown)") + ", Java " + System.getProperty("java.version")
                        + " (" + System.getProperty("java.vm.name") + ")"};
        }
    }
}
