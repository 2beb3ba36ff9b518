"""The stream view's live tail: one small anywidget that applies ``html_patch`` patches in the browser.

The kernel sends the block being written as ``(drop, add)`` patches (see ``html_patch``), so the
text already on screen is not sent again on every update, as a display update or an ipywidgets
``HTML.value`` would. The HTML is the same sanitised HTML the display view sends, so the browser
script only joins strings; it parses nothing from the agent itself.

A patch carries its sequence number: a view that missed one (it rendered after the patch arrived)
keeps what it has until the block is finished and the output is replaced by static HTML. One
widget serves a whole answer: for each new block it is restarted (``html`` and ``base``, the last
patch number, in one message) and shown in the new output, after the previous output was replaced
by static HTML; patch numbers go on across blocks, so a view of an earlier block never applies a
later block's patch.
"""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets

# Plain ES module, no build step (anywidget loads it in JupyterLab, Notebook 7, VS Code and Colab).
ESM = """
function render({ model, el }) {
  el.classList.add("jp-RenderedHTMLCommon", "am-live-tail");
  let html = model.get("html");
  let seen = model.get("base");  // patches are numbered across the answer: the next one is base + 1
  let retired = false;
  const show = () => { el.innerHTML = html; };
  const onPatch = () => {
    const patch = model.get("patch");
    if (retired || !patch.length) return;
    const [number, drop, add] = patch;
    if (number <= seen) return;  // already in the html this view started from
    if (number !== seen + 1) {  // a patch went by before this view existed: wait for the block's end
      el.dataset.stale = "true";
      return;
    }
    html = html.slice(0, Math.max(0, html.length - drop)) + add;
    seen = number;
    show();
  };
  // A restart is for a new block in a new output: a view still showing the last one keeps its text.
  const onRestart = () => { retired = true; };
  show();
  onPatch();
  model.on("change:patch", onPatch);
  model.on("change:html", onRestart);
  return () => { model.off("change:patch", onPatch); model.off("change:html", onRestart); };
}
export default { render };
"""


class LiveTail(anywidget.AnyWidget):
    _esm = traitlets.Unicode(ESM).tag(sync=True)
    html = traitlets.Unicode("").tag(sync=True)  # the block as it was at the (re)start
    base = traitlets.Int(0).tag(sync=True)  # the number of the last patch before that
    patch: traitlets.List[Any] = traitlets.List([]).tag(sync=True)  # [number, drop, add]: the latest patch

    def restart(self, html: str) -> None:
        """Show ``html`` from scratch (a new block, in a new output): one message with both traits."""
        with self.hold_sync():
            self.html = html
            self.base = self.patch[0] if self.patch else self.base

    def show(self, html: str, shown: str) -> int:
        """Send the patch from ``shown`` to ``html``; returns the characters it carried."""
        from agent_magics.view.html_patch import diff

        drop, add = diff(shown, html)
        number = (self.patch[0] if self.patch else self.base) + 1
        self.patch = [number, drop, add]
        return len(add)
