package io.mnemo.modules.miras;

import java.util.List;
import java.util.Map;

/**
 * A "user" bias registered through META-INF/services in the test resources: {@code ℓ = s Σ log cosh(e_i/s)},
 * {@code e = p − v}, so {@code g = tanh(e/s)} and {@code ∂g/∂e = (1 − tanh²(e/s))/s}.
 */
public final class LogCoshBiasFactory implements MirasComponentFactory {
    /** The user's bias. */
    public record LogCosh(double scale) implements AttentionalBias {
        public LogCosh {
            if (!(scale > 0)) {
                throw new IllegalArgumentException("scale must be > 0, got scale=" + scale);
            }
        }

        @Override
        public String name() {
            return "test-logcosh";
        }

        @Override
        public double loss(double[] p, double[] v, double param) {
            double s = 0;
            for (int j = 0; j < v.length; j++) {
                s += scale * Math.log(Math.cosh((p[j] - v[j]) / scale));
            }
            return s;
        }

        @Override
        public void gradient(double[] p, double[] v, double param, double[] g) {
            for (int j = 0; j < v.length; j++) {
                g[j] = Math.tanh((p[j] - v[j]) / scale);
            }
        }

        @Override
        public double gradientVjp(double[] p, double[] v, double param, double[] u, double[] dP, double[] dV) {
            for (int j = 0; j < v.length; j++) {
                double th = Math.tanh((p[j] - v[j]) / scale);
                double hu = (1 - th * th) / scale * u[j];
                dP[j] += hu;
                dV[j] -= hu;
            }
            return 0;
        }
    }

    @Override
    public Kind kind() {
        return Kind.BIAS;
    }

    @Override
    public String name() {
        return "test-logcosh";
    }

    @Override
    public List<String> optionNames() {
        return List.of("scale");
    }

    @Override
    public Object create(Map<String, ?> options) {
        return new LogCosh(MirasComponents.number(options, "scale", 1));
    }
}
