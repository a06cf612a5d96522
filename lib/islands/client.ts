/// <reference lib="dom" />
/// <reference lib="deno.ns" />
/**
 * The browser entry of the island seam (Fresh does this for its users; we cannot install Fresh).
 * Finds every element the server marked with `data-island`, loads that island's chunk, and
 * hydrates it with the props the server serialised beside it. Pages without islands load nothing.
 */
import { h, hydrate } from "preact";

async function hydrateAll(): Promise<void> {
  const marked = document.querySelectorAll<HTMLElement>("[data-island]");
  await Promise.all(Array.from(marked, async (el) => {
    const propsEl = document.getElementById(`${el.id}-props`);
    const props = propsEl?.textContent ? JSON.parse(propsEl.textContent) : {};
    try {
      const mod = await import(el.dataset.islandSrc!);
      hydrate(h(mod.default, props), el);
      el.dataset.hydrated = "true";
    } catch (error) {
      console.error(`island ${el.dataset.island} failed to hydrate`, error);
    }
  }));
}

hydrateAll();
