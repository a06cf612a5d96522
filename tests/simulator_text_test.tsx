/**
 * The simulator's phone shows the bot's text as WhatsApp does: `*bold*`, `_italic_` (nested
 * styles too), links clickable in a new tab, markup and `*151*2*4#` shown as typed, never as HTML.
 */
import assert from "node:assert/strict";
import { renderToString } from "preact-render-to-string";
import { Formatted } from "../islands/WhatsAppSimulator.tsx";

const html = (text: string) => renderToString(<Formatted text={text} />);

Deno.test("bot text: styles, nested styles and links as elements; markup and USSD codes as typed", () => {
  assert.equal(
    html("Pay at https://pay.example/p?id=1 now."),
    '<p class="sim-text">Pay at <a href="https://pay.example/p?id=1" target="_blank" ' +
      'rel="noopener noreferrer">https://pay.example/p?id=1</a> now.</p>',
  );
  assert.equal(
    html("_Send *stop* at any time._"),
    '<p class="sim-text"><em>Send <strong>stop</strong> at any time.</em></p>',
  );
  assert.equal(
    html("Dial *151*2*4# on 0771111111"),
    '<p class="sim-text">Dial *151*2*4# on 0771111111</p>',
  );
  assert.equal(
    html("<script>alert(1)</script> ~gone~"),
    '<p class="sim-text">&lt;script>alert(1)&lt;/script> <s>gone</s></p>',
  );
});
