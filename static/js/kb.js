// Small progressive enhancements; every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // Ask before leaving an editor with unsaved changes.
  const editor = document.querySelector("form.editor");
  if (editor) {
    let dirty = false;
    editor.addEventListener("input", () => { dirty = true; });
    editor.addEventListener("submit", () => { dirty = false; });
    window.addEventListener("beforeunload", (event) => {
      if (dirty) { event.preventDefault(); }
    });
  }
});

// Print links (data-print) open the print dialog. Without this file they load
// the same page with ?print=1, which asks the reader to press Ctrl+P.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-print]").forEach((element) => {
    element.addEventListener("click", (event) => {
      event.preventDefault();
      window.print();
    });
  });
});

// Client picker: search clients by name, pinyin initials or code and add the
// chosen client's credit code to the form's "clients" field.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-client-picker]").forEach((picker) => {
    const field = picker.querySelector("input[name=clients]");
    const box = picker.querySelector(".picker-search");
    const search = box.querySelector("input[type=search]");
    const list = box.querySelector(".suggestions");
    const url = picker.dataset.lookupUrl;
    box.hidden = false;
    let timer = null;
    let latest = 0;

    const add = (code) => {
      const codes = field.value.split(/[\s,，、;；]+/).filter(Boolean);
      if (!codes.includes(code)) { codes.push(code); }
      field.value = codes.join(" ");
      field.dispatchEvent(new Event("input", { bubbles: true }));
      list.replaceChildren();
      search.value = "";
      search.focus();
    };

    const note = (text) => {
      const item = document.createElement("li");
      item.className = "note";
      item.textContent = text;
      list.replaceChildren(item);
    };

    const show = (clients) => {
      if (!clients.length) { note(picker.dataset.emptyText); return; }
      list.replaceChildren(...clients.map((client) => {
        const item = document.createElement("li");
        item.setAttribute("role", "option");
        item.tabIndex = 0;
        item.dataset.code = client.credit_code;
        const name = document.createElement("strong");
        name.textContent = client.name;
        const details = document.createElement("small");
        const industry = client.industry ? client.industry.name : "";
        details.textContent = ` ${client.credit_code} ${industry}`;
        item.append(name, details);
        item.addEventListener("click", () => add(client.credit_code));
        item.addEventListener("keydown", (event) => {
          if (event.key === "Enter") { event.preventDefault(); add(client.credit_code); }
        });
        return item;
      }));
    };

    search.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        // Enter picks the first suggestion instead of submitting the form.
        event.preventDefault();
        const first = list.querySelector("li[data-code]");
        if (first) { add(first.dataset.code); }
      }
    });
    search.addEventListener("input", () => {
      clearTimeout(timer);
      const text = search.value.trim();
      if (!text) { list.replaceChildren(); return; }
      timer = setTimeout(async () => {
        const request = ++latest;
        const params = new URLSearchParams({ q: text, per_page: "8" });
        try {
          const response = await fetch(`${url}?${params}`, { credentials: "same-origin" });
          if (request !== latest) { return; }
          if (!response.ok) { note(picker.dataset.errorText); return; }
          const data = await response.json();
          show(data.clients || []);
        } catch (error) {
          note(picker.dataset.errorText);
        }
      }, 200);
    });
  });
});

// A second click on a form's submit button while the first request is on its
// way would post the same content twice. So later submits of the form are
// ignored until the page is shown again. Forms marked data-allow-resubmit
// may be submitted again. Forms with data-confirm ask first (deleting a
// lesson, cancelling a lecture); without this file they post at once.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") {
    return;
  }
  if (form.dataset.confirm && form.dataset.submitting !== "yes"
      && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    return;
  }
  if (form.hasAttribute("data-allow-resubmit")) { return; }
  if (form.dataset.submitting === "yes") {
    event.preventDefault();
    return;
  }
  form.dataset.submitting = "yes";
  // Back/forward cache: re-enable when the page is shown again.
  window.addEventListener("pageshow", () => { delete form.dataset.submitting; }, { once: true });
});

// A file input with data-max-bytes rejects a larger file at once, before a
// long upload ends in the server's 413 response.
document.addEventListener("change", (event) => {
  const input = event.target;
  if (!(input instanceof HTMLInputElement) || !input.dataset.maxBytes) { return; }
  const help = document.getElementById(input.getAttribute("aria-describedby"));
  const old = help && help.querySelector("p.size-error");
  if (old) { old.remove(); }
  const file = input.files && input.files[0];
  if (!file || file.size <= Number(input.dataset.maxBytes)) { return; }
  input.value = "";
  if (help) {
    const message = document.createElement("p");
    message.className = "error size-error";
    message.textContent = input.dataset.tooLarge;
    help.appendChild(message);
  }
});
