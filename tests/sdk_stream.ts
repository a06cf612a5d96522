/** Reading an SDK's stream to its end, for the tests of the fakes' cut streams. */

/**
 * The texts of the stream `open()` answers (picked from each chunk by `text`), and the error
 * that ended it when one did: what a client had been shown when the stream broke.
 */
export async function readToEnd<C>(
  open: () => Promise<AsyncIterable<C>>,
  text: (chunk: C) => string | undefined,
): Promise<{ deltas: string[]; error?: unknown }> {
  const deltas: string[] = [];
  try {
    for await (const chunk of await open()) {
      const piece = text(chunk);
      if (piece) deltas.push(piece);
    }
    return { deltas, error: undefined };
  } catch (error) {
    return { deltas, error };
  }
}
