package io.mnemo.core.io;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A {@code .npy} file that {@link Npy} cannot read or an array it cannot write. The message starts with
 * the file and says what is wrong, e.g. {@code "x.npy: unsupported dtype '<f2', expected one of <f4, <f8,
 * <i4, <i8, |b1"}.
 */
public class NpyFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;

    /**
     * @param file the file concerned
     * @param problem what is wrong, without the file name
     */
    public NpyFormatException(Path file, String problem) {
        super(file + ": " + problem);
        this.file = file;
    }

    /** The file concerned. */
    public Path file() {
        return file;
    }
}
