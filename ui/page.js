() => {
  // What the chat page does in the browser beyond Gradio's defaults (ui.app.serve loads it with the page):
  //  * a new question scrolls the conversation to the bottom, where it and "Searching the documents…" are;
  //    its reply then scrolls so that the question stands at the top, the answer under it (a long reply would
  //    otherwise show its end, the Sources, and hide the answer); a short one just shows the bottom;
  //  * a "Sources" or "Other possible answers" section opened near the bottom scrolls into view.
  // Only the conversation's own scroll box moves, never the page.
  const CHAT = "#qa-chat";
  // Questions are counted, not kept: Gradio may render a message's row anew when the conversation updates.
  let scrolledFor = 0;  // the number of the question whose reply was last scrolled to
  let shownFor = 0;  // the number of the question last scrolled to while its reply was pending
  let rowsSeen = 0;  // messages in the conversation at the last look
  const opened = new WeakSet();  // sections already seen open

  function box(chat) {
    return chat.querySelector(".panel-wrap, .bubble-wrap");
  }

  function offsetIn(wrap, el) {
    return el.getBoundingClientRect().top - wrap.getBoundingClientRect().top + wrap.scrollTop;
  }

  function update() {
    const chat = document.querySelector(CHAT);
    const wrap = chat && box(chat);
    if (!wrap) return;
    const rows = [...chat.querySelectorAll(".message-row")];
    const questions = rows.filter((r) => r.classList.contains("user-row"));
    const n = questions.length;
    const grew = rows.length > rowsSeen;
    rowsSeen = rows.length;
    if (n === 0) scrolledFor = shownFor = 0;
    const last = questions[n - 1];
    const after = last ? rows.slice(rows.indexOf(last) + 1) : rows;
    const replied = after.some((r) => r.querySelector(".qa-answer, .qa-notice"));
    if (last && replied && scrolledFor !== n) {
      scrolledFor = n;
      chat.querySelectorAll(".qa-sources, .qa-alternatives").forEach((el) => opened.add(el));
      const top = offsetIn(wrap, last) - 8;
      wrap.scrollTop = Math.max(0, Math.min(top, wrap.scrollHeight - wrap.clientHeight));
      return;
    }
    if (last && !replied && shownFor !== n) {
      shownFor = n;
      wrap.scrollTop = wrap.scrollHeight;
      return;
    }
    if (grew && rows.length && rows[rows.length - 1].querySelector(".qa-notice")) {
      wrap.scrollTop = wrap.scrollHeight;  // a notice with no question of its own (an empty or too long one)
      return;
    }
    for (const el of chat.querySelectorAll(".qa-sources, .qa-alternatives")) {
      if (opened.has(el)) continue;
      opened.add(el);
      const top = offsetIn(wrap, el);
      if (top <= wrap.scrollTop + wrap.clientHeight - 120) continue;  // its start is in view already
      // the section unfolds over a moment: follow it until its start is near the top, for at most a second
      const want = Math.max(0, top - 80);
      const follow = new ResizeObserver(() => {
        wrap.scrollTop = Math.min(want, wrap.scrollHeight - wrap.clientHeight);
        if (wrap.scrollTop >= want - 1) follow.disconnect();
      });
      follow.observe(wrap.firstElementChild || el);  // the conversation grows as the section unfolds
      setTimeout(() => follow.disconnect(), 1000);
    }
  }

  let queued = false;
  function schedule() {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      update();
    });
  }

  function attach() {
    const chat = document.querySelector(CHAT);
    if (!chat) {
      setTimeout(attach, 200);
      return;
    }
    new MutationObserver(schedule).observe(chat, { childList: true, subtree: true });
  }
  attach();
}
