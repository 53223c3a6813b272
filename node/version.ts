// The package's name, version and description, read once from package.json.
import { readFileSync } from "node:fs";

export const PACKAGE = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  readonly version: string;
  readonly description: string;
};
