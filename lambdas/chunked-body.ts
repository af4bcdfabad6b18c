/**
 * A binary response body held as the pieces it was made of (a frame header, then views of
 * the stored batches), so that an in-process server (`sluice dev`) writes them to the socket
 * as they are instead of copying them into one buffer first. In Lambda the pieces are joined
 * once, when the result's base64 `body` is read.
 */
export class ChunkedBody {
  /** Total bytes of all chunks. */
  readonly length: number;
  private joined: Uint8Array | undefined;

  /** @param chunks the body's bytes in order; they are kept, not copied. */
  constructor(readonly chunks: readonly Uint8Array[]) {
    this.length = chunks.reduce((n, c) => n + c.length, 0);
  }

  /** The body as one array (the chunk itself when there is one; else one copy, made once). */
  bytes(): Uint8Array {
    if (this.chunks.length === 1) return this.chunks[0]!;
    if (!this.joined) {
      const out = new Uint8Array(this.length);
      let pos = 0;
      for (const c of this.chunks) {
        out.set(c, pos);
        pos += c.length;
      }
      this.joined = out;
    }
    return this.joined;
  }
}
