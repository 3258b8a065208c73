// What every dialog shares: a click on the backdrop (outside the sheet) closes it,
// like a native sheet.

export function closeOnBackdrop(dlg) {
  dlg.addEventListener('click', (ev) => {
    if (ev.target !== dlg) return;
    const r = dlg.getBoundingClientRect();
    const inside = ev.clientX >= r.left && ev.clientX <= r.right && ev.clientY >= r.top && ev.clientY <= r.bottom;
    if (!inside) dlg.close();
  });
}
