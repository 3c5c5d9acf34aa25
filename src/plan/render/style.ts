// ANSI styling that disappears when colour is off.
export interface Style {
  green(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
  redBold(s: string): string;
  magenta(s: string): string;
  bold(s: string): string;
  dim(s: string): string;
}

const sgr = (code: string) => (s: string) => `\u001b[${code}m${s}\u001b[0m`;
const id = (s: string) => s;

export function style(color: boolean): Style {
  if (!color) return { green: id, yellow: id, red: id, redBold: id, magenta: id, bold: id, dim: id };
  return { green: sgr("32"), yellow: sgr("33"), red: sgr("31"), redBold: sgr("1;31"), magenta: sgr("35"), bold: sgr("1"), dim: sgr("2") };
}
