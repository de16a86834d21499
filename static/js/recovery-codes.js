// Progressive enhancement for the recovery codes page: a "Copy codes" button where the
// Clipboard API exists. Without JavaScript the page still offers download and selection.
document.querySelectorAll("[data-copy-codes]").forEach((button) => {
  if (!navigator.clipboard) return;
  const list = document.getElementById(button.dataset.copyCodes);
  const status = document.querySelector(".copy-status");
  button.hidden = false;
  button.addEventListener("click", async () => {
    const codes = Array.from(list.querySelectorAll("code"), (code) => code.textContent).join("\n");
    try {
      await navigator.clipboard.writeText(codes + "\n");
      if (status) status.textContent = "Codes copied to the clipboard.";
    } catch (error) {
      if (status) status.textContent = "Copying failed; select the codes or download them.";
    }
  });
});
