package io.mnemo.bench.peers;

import io.mnemo.train.model.LanguageModel;
import io.mnemo.train.model.Loss;
import io.mnemo.train.model.Presets;
import io.mnemo.train.optim.AdamW;
import java.util.List;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToRnnPreProcessor;
import org.deeplearning4j.nn.conf.preprocessor.RnnToFeedForwardPreProcessor;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.deeplearning4j.nn.conf.layers.SelfAttentionLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.nd4j.linalg.schedule.FixedSchedule;

/**
 * The byte-level language models of the model-level comparison: Mnemo's presets against the DL4J models a
 * DL4J user would build from built-in layers, at equal parameter count. Vocabulary 256 (bytes), width 128,
 * 2 layers:
 * <ul>
 *   <li>{@code mnemo:PRESET} — a {@link LanguageModel} preset, trained with {@link AdamW}: {@code gdn-small}
 *       (2 Gated DeltaNet layers, 4 heads, SwiGLU MLPs), {@code lmm-small} (2 Titans LMM layers, 4 heads,
 *       depth-2 memory) and {@code mamba-small} (2 Mamba-1 layers, expand 2, N = 16) by default;
 *   <li>{@code dl4j:lstm} — {@code EmbeddingSequenceLayer} → 2 × {@code LSTM(h)} → {@code RnnOutputLayer}
 *       (sparse softmax cross-entropy), h chosen so that the parameter count matches;
 *   <li>{@code dl4j:attention} — {@code EmbeddingSequenceLayer} → 2 × ({@code SelfAttentionLayer} (4 heads,
 *       projected) → {@code DenseLayer(f, relu)} → {@code DenseLayer(128)}) → {@code RnnOutputLayer}, f
 *       chosen so that the parameter count matches. DL4J's {@code SelfAttentionLayer} has no causal mask (in
 *       1.0.0-M2.1 it masks padding only), so this model sees the future: it is timed as a DL4J user's
 *       attention layer, an upper bound on a causal one's speed, not as a valid language model.
 * </ul>
 * Both DL4J models train with DL4J's Adam through {@code fit}.
 */
public final class PeerModels {
    /** Byte vocabulary. */
    public static final int VOCAB = 256;
    /** Model width of every model. */
    public static final int WIDTH = 128;
    /** The Mnemo preset whose size the DL4J models match. */
    public static final String SIZE_REFERENCE = "gdn-small";
    /** Model names of the default run; further Mnemo presets slot in as {@code mnemo:NAME}. */
    public static final List<String> DEFAULT = List.of("mnemo:gdn-small", "mnemo:lmm-small", "mnemo:mamba-small",
            "dl4j:lstm", "dl4j:attention");

    private PeerModels() {}

    /** A model under test. */
    public interface Lm {
        /** Scalar parameters. */
        long parameters();

        /** One line on what it is, with its sizes. */
        String description();

        /** One training step (forward, loss, backward, optimizer update) on {@code x [B, T] → y [B, T]}. */
        void train(INDArray x, INDArray y);

        /** Inference over the whole sequence (prefill): next-token scores {@code [B, T, V]} or DL4J's layout. */
        INDArray infer(INDArray x);
    }

    /** The model called {@code name} ({@code mnemo:PRESET}, {@code dl4j:lstm} or {@code dl4j:attention}). */
    public static Lm create(String name) {
        if (name.startsWith("mnemo:")) {
            return new MnemoLm(name.substring(6));
        }
        long target = new LanguageModel(Presets.create(SIZE_REFERENCE, VOCAB)).parameterCount();
        return switch (name) {
            case "dl4j:lstm" -> new Dl4jLm(name, lstm(lstmWidth(target)), "2 × LSTM(" + lstmWidth(target) + ")");
            case "dl4j:attention" -> new Dl4jLm(name, attention(attentionFf(target)),
                    "2 × (SelfAttention(4 heads × 32) + Dense(" + attentionFf(target) + ", relu) + Dense(128))");
            default -> throw new IllegalArgumentException("unknown model '" + name + "', expected mnemo:PRESET "
                    + Presets.names() + ", dl4j:lstm or dl4j:attention");
        };
    }

    /** Parameters of the DL4J LSTM model with hidden width {@code h}. */
    static long lstmParams(long h) {
        return (long) VOCAB * WIDTH + 4 * (WIDTH * h + h * h + h) + 4 * (2 * h * h + h) + h * VOCAB + VOCAB;
    }

    /** Parameters of the DL4J attention model with feed-forward width {@code f}. */
    static long attentionParams(long f) {
        long attn = 4L * WIDTH * WIDTH; // Wq, Wk, Wv, Wo without biases
        long ff = WIDTH * f + f + f * WIDTH + WIDTH;
        return (long) VOCAB * WIDTH + 2 * (attn + ff) + (long) WIDTH * VOCAB + VOCAB;
    }

    /** LSTM width whose model is closest in size to {@code target} parameters. */
    static int lstmWidth(long target) {
        int best = 1;
        for (int h = 1; h <= 4096; h++) {
            if (Math.abs(lstmParams(h) - target) < Math.abs(lstmParams(best) - target)) {
                best = h;
            }
        }
        return best;
    }

    /** Feed-forward width (a multiple of 8) whose attention model is closest in size to {@code target}. */
    static int attentionFf(long target) {
        int best = 8;
        for (int f = 8; f <= 65536; f += 8) {
            if (Math.abs(attentionParams(f) - target) < Math.abs(attentionParams(best) - target)) {
                best = f;
            }
        }
        return best;
    }

    static MultiLayerNetwork lstm(int h) {
        MultiLayerConfiguration conf = base().list()
                .layer(new EmbeddingSequenceLayer.Builder().nIn(VOCAB).nOut(WIDTH).outputDataFormat(RNNFormat.NCW).build())
                .layer(new LSTM.Builder().nIn(WIDTH).nOut(h).activation(Activation.TANH).dataFormat(RNNFormat.NCW).build())
                .layer(new LSTM.Builder().nIn(h).nOut(h).activation(Activation.TANH).dataFormat(RNNFormat.NCW).build())
                .layer(new RnnOutputLayer.Builder(LossFunctions.LossFunction.SPARSE_MCXENT).activation(Activation.SOFTMAX)
                        .nIn(h).nOut(VOCAB).dataFormat(RNNFormat.NCW).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    static MultiLayerNetwork attention(int f) {
        NeuralNetConfiguration.ListBuilder l = base().list()
                .layer(new EmbeddingSequenceLayer.Builder().nIn(VOCAB).nOut(WIDTH).outputDataFormat(RNNFormat.NCW).build());
        // dense layers see [B·T, width] rows: DL4J's reshaping preprocessors around them
        for (int i = 0; i < 2; i++) {
            if (i > 0) {
                l.inputPreProcessor(1 + 3 * i, new FeedForwardToRnnPreProcessor());
            }
            l.inputPreProcessor(2 + 3 * i, new RnnToFeedForwardPreProcessor());
            l.layer(new SelfAttentionLayer.Builder().nIn(WIDTH).nOut(WIDTH).nHeads(4).headSize(WIDTH / 4)
                    .projectInput(true).build());
            l.layer(new DenseLayer.Builder().nIn(WIDTH).nOut(f).activation(Activation.RELU).build());
            l.layer(new DenseLayer.Builder().nIn(f).nOut(WIDTH).activation(Activation.IDENTITY).build());
        }
        MultiLayerConfiguration conf = l.layer(new RnnOutputLayer.Builder(LossFunctions.LossFunction.SPARSE_MCXENT)
                .activation(Activation.SOFTMAX).nIn(WIDTH).nOut(VOCAB).dataFormat(RNNFormat.NCW).build())
                .inputPreProcessor(7, new FeedForwardToRnnPreProcessor())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    private static NeuralNetConfiguration.Builder base() {
        return new NeuralNetConfiguration.Builder().seed(7).dataType(DataType.FLOAT).weightInit(WeightInit.XAVIER)
                .updater(new Adam(1e-3));
    }

    /** A Mnemo preset with AdamW (lr 1e-3, no weight decay), loss over every position. */
    static final class MnemoLm implements Lm {
        private final String preset;
        private final LanguageModel model;
        private final AdamW opt;
        private int step;

        MnemoLm(String preset) {
            this.preset = preset;
            this.model = new LanguageModel(Presets.create(preset, VOCAB));
            this.opt = new AdamW(model.parameters(), new FixedSchedule(1e-3), 0.9, 0.999, 1e-8, 0.0);
        }

        @Override
        public long parameters() {
            return model.parameterCount();
        }

        @Override
        public String description() {
            var c = model.config();
            return "Mnemo preset " + preset + ": " + c.layers().size() + " × " + c.layers().get(0).type() + " ("
                    + c.layers().get(0).heads() + " heads) + SwiGLU(" + c.mlpHidden() + "), d=" + c.dModel();
        }

        @Override
        public void train(INDArray x, INDArray y) {
            LanguageModel.Output o = model.forward(x, null, true);
            Loss.Result l = Loss.crossEntropy(o.logits(), y, null, true);
            if (!Double.isFinite(l.loss())) {
                throw new IllegalStateException("Mnemo " + preset + " loss is " + l.loss());
            }
            model.backward(o, l.dLogits(), null);
            opt.step(step++);
            model.zeroGrad();
        }

        @Override
        public INDArray infer(INDArray x) {
            return model.forward(x, null, false).logits();
        }
    }

    /** A DL4J network: tokens {@code [B, T]} as {@code [B, 1, T]} indices; sparse labels {@code [B, 1, T]}. */
    static final class Dl4jLm implements Lm {
        private final String name;
        private final MultiLayerNetwork net;
        private final String layers;

        Dl4jLm(String name, MultiLayerNetwork net, String layers) {
            this.name = name;
            this.net = net;
            this.layers = layers;
        }

        @Override
        public long parameters() {
            return net.numParams();
        }

        @Override
        public String description() {
            return "DL4J " + name.substring(5) + ": Embedding(256, 128) + " + layers + " + RnnOutput(256)";
        }

        @Override
        public void train(INDArray x, INDArray y) {
            net.fit(rnn(x), rnn(y));
            if (!Double.isFinite(net.score())) {
                throw new IllegalStateException(name + " loss is " + net.score());
            }
        }

        @Override
        public INDArray infer(INDArray x) {
            return net.output(rnn(x));
        }

        private static INDArray rnn(INDArray tokens) {
            return tokens.castTo(DataType.FLOAT).reshape(tokens.size(0), 1, tokens.size(1));
        }
    }
}
