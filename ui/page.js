() => {
  // What the chat page does in the browser beyond Gradio's defaults (ui.app.serve loads it with the page):
  //  * a new question scrolls the conversation to the bottom, where it and "Searching the documents…" are;
  //    its reply then scrolls so that the question stands at the top, the answer under it (a long reply would
  //    otherwise show its end, the Sources, and hide the answer); a short one just shows the bottom. Where the
  //    page itself scrolls (a phone, its keyboard open), the page follows, so the question is on screen;
  //  * a "Sources" or "Other possible answers" section opened near the bottom scrolls into view;
  //  * Gradio labels each message with its raw HTML for screen readers; the label is dropped, so that what is
  //    read is the message's text ("You asked: …", "Answer: …").
  const CHAT = "#qa-chat";
  // Questions are counted, not kept: Gradio may render a message's row anew when the conversation updates.
  let scrolledFor = 0;  // the number of the question whose reply was last scrolled to
  let shownFor = 0;  // the number of the question last scrolled to while its reply was pending
  let rowsSeen = 0;  // messages in the conversation at the last look

  function box(chat) {
    return chat.querySelector(".panel-wrap, .bubble-wrap");
  }

  function offsetIn(wrap, el) {
    return el.getBoundingClientRect().top - wrap.getBoundingClientRect().top + wrap.scrollTop;
  }

  function onScreen(el) {
    // where the page scrolls (the conversation's box taller than the window), bring el's top into the window
    const top = el.getBoundingClientRect().top;
    const seen = window.visualViewport ? window.visualViewport.height : window.innerHeight;  // the keyboard's not
    if (top < 0 || top > seen - 60) window.scrollBy(0, top - 8);
  }

  function update() {
    const chat = document.querySelector(CHAT);
    const wrap = chat && box(chat);
    if (!wrap) return;
    for (const el of chat.querySelectorAll("[data-testid=bot][aria-label], [data-testid=user][aria-label]")) {
      el.removeAttribute("aria-label");
    }
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
      const top = offsetIn(wrap, last) - 8;
      wrap.scrollTop = Math.max(0, Math.min(top, wrap.scrollHeight - wrap.clientHeight));
      onScreen(last);
      return;
    }
    if (last && !replied && shownFor !== n) {
      shownFor = n;
      wrap.scrollTop = wrap.scrollHeight;
      return;
    }
    if (grew && rows.length && rows[rows.length - 1].querySelector(".qa-notice")) {
      wrap.scrollTop = wrap.scrollHeight;  // a notice with no question of its own (an empty or too long one)
    }
  }

  function opened(event) {
    // a section (<details>) just opened: if its start is low in the conversation's box, scroll it up to near
    // the top, so what it holds is in view
    const section = event.target;
    if (!(section instanceof HTMLDetailsElement) || !section.open) return;
    const wrap = box(document.querySelector(CHAT));
    if (!wrap) return;
    const top = offsetIn(wrap, section);
    const bottom = top + section.offsetHeight;
    if (bottom > wrap.scrollTop + wrap.clientHeight) {  // what it holds runs below the view: show as much as
      // fits, its start kept in view (near the top when it is taller than the view)
      const want = Math.min(Math.max(0, top - 80), bottom - wrap.clientHeight + 16);
      wrap.scrollTop = Math.min(Math.max(wrap.scrollTop, want), wrap.scrollHeight - wrap.clientHeight);
    }
    onScreen(section);
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
    chat.addEventListener("toggle", opened, true);  // "toggle" does not bubble: listen as it goes down
  }
  attach();
}
