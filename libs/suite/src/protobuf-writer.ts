// A minimal protobuf writer, for the few hand-built ONNX messages (field numbers from onnx.proto)
// whose bytes must depend on nothing but our code: the reference model's digest is pinned, and
// `benchfarm simulate-fleet` writes model-shaped blobs for the object store.

/** One field: its key (number and wire type) and, for a length-delimited field, the payload's length. */
export function field(number: number, wireType: 0 | 2, payload: Uint8Array): Uint8Array {
  const key = varint(number * 8 + wireType);
  return wireType === 0 ? concat(key, payload) : concat(key, varint(payload.length), payload);
}

/** A non-negative integer as a base-128 varint (wire type 0's payload). */
export function varint(value: number): Uint8Array {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

/** A string field's payload. */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** The parts one after another (a message is the concatenation of its fields). */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
