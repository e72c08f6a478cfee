package io.mnemo.modules.titans;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link TitansGemm}'s SiLU on the JDK Vector API (one vector exponential per lane group). Loaded
 * reflectively by {@link TitansGemm#get()}.
 */
final class TitansGemmSimd extends TitansGemm {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    @Override
    void silu(float[] z, int from, int to, float[] val, float[] d1, float[] aux) {
        int i = from;
        int bound = from + S.loopBound(to - from);
        FloatVector one = FloatVector.broadcast(S, 1f);
        for (; i < bound; i += L) {
            FloatVector xv = FloatVector.fromArray(S, z, i);
            FloatVector sg = one.div(xv.neg().lanewise(VectorOperators.EXP).add(one));
            xv.mul(sg).intoArray(val, i);
            sg.mul(xv.mul(one.sub(sg)).add(one)).intoArray(d1, i);
            if (aux != null) {
                sg.intoArray(aux, i);
            }
        }
        super.silu(z, i, to, val, d1, aux);
    }
}
