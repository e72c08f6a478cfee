package io.mnemo.bench.peers;

/** A peer ran but computed something else than Mnemo's reference: a bug, never a timing. */
public final class PeerParityException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    /** @param message what differs and by how much */
    public PeerParityException(String message) {
        super(message);
    }
}
