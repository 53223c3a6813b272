// Plain-text tables for the terminal. Cells are strings; columns are padded to their widest cell.

export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return `${[line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n")}\n`;
}

/** Shortens a long identifier for display: first 8 and last 6 characters. */
export function short(text: string | null | undefined, keep = 8): string {
  if (!text) return "-";
  return text.length > keep + 9 ? `${text.slice(0, keep)}…${text.slice(-6)}` : text;
}
