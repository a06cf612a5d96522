/**
 * Splits a document's text into chunks for retrieval, by tokens (gpt-tokenizer's count, the
 * same the chat bills by) with an overlap, keeping each chunk under the headings it belongs to.
 *
 * The text is markdown-like, as the extractors (extract.ts) produce it: `#` lines are headings,
 * blank lines end paragraphs. A chunk never spans two sections; it carries its heading path
 * ("Billing › Refunds") beside its content, so a passage read alone still says what it is about
 * (and the path is weighted highest in full-text search). Paragraphs are packed whole while they
 * fit; a paragraph too long for one chunk is cut between sentences, then between words. The
 * next chunk of a section starts with the last units of the one before, up to the overlap, so
 * a sentence cut between two chunks is whole in one of them.
 */
import { countTextTokens } from "../ai/tokens.ts";

export interface ChunkOptions {
  /** Tokens a chunk may hold, heading included. */
  maxTokens: number;
  /** Tokens of the previous chunk repeated at the start of the next, at most. */
  overlapTokens: number;
}

export const DEFAULT_CHUNKING: ChunkOptions = { maxTokens: 300, overlapTokens: 50 };

export interface Chunk {
  /** Position in the document, from 0: with the source's version, the chunk's key. */
  ordinal: number;
  heading: string;
  content: string;
  tokens: number;
}

interface Section {
  heading: string;
  paragraphs: string[];
}

const HEADING = /^(#{1,6})\s+(.+?)\s*#*\s*$/;
const HEADING_SEPARATOR = " › ";

/** Sections of the text: each heading opens one; its path is the headings above it. */
export function sections(text: string): Section[] {
  const out: Section[] = [];
  const path: string[] = [];
  let current: Section = { heading: "", paragraphs: [] };
  let paragraph: string[] = [];
  const endParagraph = () => {
    const p = paragraph.join(" ").replace(/\s+/g, " ").trim();
    if (p) current.paragraphs.push(p);
    paragraph = [];
  };
  for (const line of text.split("\n")) {
    const heading = line.match(HEADING);
    if (heading) {
      endParagraph();
      if (current.paragraphs.length > 0) out.push(current);
      const level = heading[1].length;
      path.length = Math.min(path.length, level - 1);
      path[level - 1] = heading[2].replace(/\s+/g, " ").slice(0, 200);
      current = { heading: path.filter(Boolean).join(HEADING_SEPARATOR), paragraphs: [] };
    } else if (line.trim() === "") {
      endParagraph();
    } else {
      paragraph.push(line.trim());
    }
  }
  endParagraph();
  if (current.paragraphs.length > 0) out.push(current);
  return out;
}

interface Unit {
  text: string;
  tokens: number;
  /** The last unit of its paragraph (a blank line follows it in the chunk). */
  endsParagraph?: boolean;
}

const SENTENCE_END = /(?<=[.!?…。])\s+/;

/** Cuts a sentence that is too long into units of at most `max` tokens, between words. */
function cut(text: string, max: number): Unit[] {
  const tokens = countTextTokens(text);
  if (tokens <= max) return [{ text, tokens }];
  // A sentence longer than a chunk: words, packed; a "word" too long alone (base64, a URL
  // without end) in pieces of a few hundred characters.
  const words = text.split(/\s+/).flatMap((w) => w.match(/.{1,200}/gsu) ?? []);
  const units: Unit[] = [];
  let group: string[] = [];
  let count = 0;
  for (const word of words) {
    const n = countTextTokens(" " + word);
    if (count + n > max && group.length > 0) {
      units.push({ text: group.join(" "), tokens: count });
      group = [];
      count = 0;
    }
    group.push(word);
    count += n;
  }
  if (group.length > 0) units.push({ text: group.join(" "), tokens: count });
  return units;
}

/** The document's chunks, in order. Deterministic: the same text gives the same chunks. */
export function chunkText(text: string, options: ChunkOptions = DEFAULT_CHUNKING): Chunk[] {
  const chunks: Chunk[] = [];
  for (const section of sections(text)) {
    const headingTokens = section.heading ? countTextTokens(section.heading) : 0;
    // A heading path longer than half a chunk is cut short: the content must fit beside it.
    const heading = headingTokens > options.maxTokens / 2
      ? section.heading.slice(-200)
      : section.heading;
    const budget = Math.max(
      16,
      options.maxTokens - (heading ? countTextTokens(heading) : 0),
    );
    // Sentences are the units: the overlap can then repeat the last sentence or two.
    const units = section.paragraphs.flatMap((p) => {
      const parts = p.split(SENTENCE_END).filter(Boolean).flatMap((s) => cut(s, budget));
      if (parts.length > 0) parts[parts.length - 1].endsParagraph = true;
      return parts;
    });
    let current: Unit[] = [];
    let used = 0;
    const emit = () => {
      if (current.length === 0) return;
      chunks.push({
        ordinal: chunks.length,
        heading,
        content: current.map((u, i) =>
          u.text + (i === current.length - 1 ? "" : u.endsParagraph ? "\n\n" : " ")
        ).join(""),
        tokens: used,
      });
    };
    let fresh = 0; // units in `current` that no earlier chunk holds
    for (const unit of units) {
      if (used + unit.tokens > budget && fresh > 0) {
        emit();
        // The overlap: the last units of this chunk that fit in `overlapTokens`.
        const carried: Unit[] = [];
        let carriedTokens = 0;
        for (let i = current.length - 1; i >= 0; i--) {
          const u = current[i];
          if (carriedTokens + u.tokens > options.overlapTokens) break;
          if (carriedTokens + u.tokens + unit.tokens > budget) break;
          carried.unshift(u);
          carriedTokens += u.tokens;
        }
        current = carried;
        used = carriedTokens;
        fresh = 0;
      }
      current.push(unit);
      used += unit.tokens;
      fresh++;
    }
    if (fresh > 0) emit();
  }
  return chunks;
}
