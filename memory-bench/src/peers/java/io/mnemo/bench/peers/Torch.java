package io.mnemo.bench.peers;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import io.mnemo.core.NdBuffers;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Access to libtorch through DJL's PyTorch engine: the engine, thread settings and copies between ND4J
 * and PyTorch arrays. DJL must run offline with its caches under the build tree
 * ({@code -Dai.djl.offline=true -DDJL_CACHE_DIR=… -DENGINE_CACHE_DIR=…}); {@link PeersMain} and the
 * {@code peers} Maven profile pass them.
 */
public final class Torch {
    /** DJL's name of the PyTorch engine. */
    public static final String ENGINE = "PyTorch";

    private Torch() {}

    /** The PyTorch engine (loads libtorch on first use); fails with a hint when DJL is not set up. */
    public static Engine engine() {
        if (System.getProperty("ai.djl.offline") == null && System.getenv("DJL_OFFLINE") == null) {
            throw new IllegalStateException("DJL would try to download libtorch: run with -Dai.djl.offline=true and "
                    + "the pytorch-native-cpu jar on the class path (bin/mnemo-bench --peers does)");
        }
        return Engine.getEngine(ENGINE);
    }

    /** A new root manager of PyTorch arrays; close it when done. */
    public static NDManager newManager() {
        return engine().newBaseManager();
    }

    /** libtorch's version, e.g. {@code 2.7.1}. */
    public static String version() {
        return engine().getVersion();
    }

    /** Intra-op threads of libtorch ({@code torch.get_num_threads()}). */
    public static int threads() {
        engine();
        return JniUtils.getNumThreads();
    }

    /**
     * A 0-d FLOAT tensor in {@code m}, alive until {@code m} closes: the operand to use instead of a Java number
     * in an op autograd differentiates through.
     *
     * <p>DJL 0.35.1's {@code NDArray.mul(Number)}, {@code maximum(Number)}, … wrap the number in a tensor over a
     * Java direct buffer and close that tensor as soon as the op returns. When the op's backward needs the
     * number (the factor of a product, the threshold of a maximum), autograd still holds the tensor, and once
     * the garbage collector frees the buffer, the backward reads freed memory: a wrong gradient for the
     * input on the other side of that op. Seen here: PyTorch's dq of the linear ops (q times the scale)
     * 1e6 to 1e36 off, or off by a factor, in some runs only, and every run with a 48 MB heap.
     */
    public static NDArray scalar(NDManager m, float value) {
        return m.create(value);
    }

    /** A FLOAT PyTorch copy of {@code a} in {@code m}; null stays null. */
    public static NDArray of(NDManager m, INDArray a) {
        if (a == null) {
            return null;
        }
        float[] data = new float[(int) a.length()];
        NdBuffers.copyFrom(a, data);
        return m.create(data, new Shape(a.shape()));
    }

    /** A FLOAT INDArray copy of {@code a}; null stays null. */
    public static INDArray toNd4j(NDArray a) {
        if (a == null) {
            return null;
        }
        return NdBuffers.ofFloats(a.toFloatArray(), a.getShape().getShape());
    }
}
