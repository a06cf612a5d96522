import assert from "node:assert/strict";
import { matchMenuChoice, menuChoices, renderNumberedMenu } from "./menu.ts";
import type { OutboundButtons, OutboundList } from "./types.ts";

const mainMenu: OutboundList = {
  type: "list",
  header: "Hurukuro",
  body: "What would you like to do?",
  button: "Menu",
  sections: [
    {
      title: "Ask",
      rows: [
        { id: "chat", title: "💬 Chat", description: "Conversation with memory" },
        { id: "essay", title: "Essay" },
      ],
    },
    {
      title: "Account",
      rows: [
        { id: "buy", title: "💰 Buy tokens" },
        { id: "balance", title: "Balance" },
      ],
    },
  ],
  footer: "Type menu at any time",
};

const confirm: OutboundButtons = {
  type: "buttons",
  body: "Pay 500 tokens with EcoCash?",
  buttons: [{ id: "yes", title: "Yes" }, { id: "no", title: "No" }],
};

Deno.test("menu choices are numbered in display order across list sections", () => {
  assert.deepEqual(
    menuChoices(mainMenu).map((c) => [c.number, c.id]),
    [[1, "chat"], [2, "essay"], [3, "buy"], [4, "balance"]],
  );
  assert.deepEqual(menuChoices(confirm).map((c) => c.title), ["Yes", "No"]);
});

Deno.test("a list renders as a numbered text menu with sections, footer and a hint", () => {
  assert.equal(
    renderNumberedMenu(mainMenu),
    [
      "*Hurukuro*",
      "",
      "What would you like to do?",
      "",
      "*Ask*",
      "1. 💬 Chat — Conversation with memory",
      "2. Essay",
      "",
      "*Account*",
      "3. 💰 Buy tokens",
      "4. Balance",
      "",
      "_Type menu at any time_",
      "Reply with the number of your choice.",
    ].join("\n"),
  );
});

Deno.test("buttons render as a numbered text menu, with the hint replaceable", () => {
  assert.equal(
    renderNumberedMenu(confirm, "Reply 1 or 2."),
    "Pay 500 tokens with EcoCash?\n\n1. Yes\n2. No\n\nReply 1 or 2.",
  );
});

Deno.test("a typed number picks that choice, with or without punctuation", () => {
  const choices = menuChoices(mainMenu);
  for (const typed of ["3", " 3 ", "3.", "3)", "#3"]) {
    assert.equal(matchMenuChoice(typed, choices)?.id, "buy", typed);
  }
  assert.equal(matchMenuChoice("5", choices), undefined);
  assert.equal(matchMenuChoice("0", choices), undefined);
});

Deno.test("a typed title matches regardless of case, punctuation and emoji", () => {
  const choices = menuChoices(mainMenu);
  assert.equal(matchMenuChoice("buy tokens", choices)?.id, "buy");
  assert.equal(matchMenuChoice("CHAT!", choices)?.id, "chat");
  assert.equal(matchMenuChoice("balance", choices)?.id, "balance");
  assert.equal(matchMenuChoice("essay", choices)?.number, 2);
});

Deno.test("an id matches, and text that means nothing or several things matches nothing", () => {
  const choices = menuChoices(mainMenu);
  assert.equal(matchMenuChoice("essay", choices)?.id, "essay");
  assert.equal(matchMenuChoice("tell me a joke", choices), undefined);
  assert.equal(matchMenuChoice("", choices), undefined);
  const twins = menuChoices({
    type: "buttons",
    body: "?",
    buttons: [{ id: "a", title: "Yes!" }, { id: "b", title: "yes" }],
  });
  assert.equal(matchMenuChoice("yes", twins), undefined);
  assert.equal(matchMenuChoice("b", twins)?.id, "b");
});
