// ESLint for metalform: rules that catch real bugs, not style (Prettier owns the
// layout, see .prettierrc.json). TypeScript is linted with type information
// (typescript-eslint's project service: src/ through tsconfig.json, test/ through
// test/tsconfig.json), because the bugs that matter most here — a promise nobody
// awaits, an async callback where a void one is expected, `${object}` in a message —
// are only visible with types. Plain .mjs/.js (bench/, this file) get the JS rules.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "native/**/build/", "src/config/cluster-validator.generated.ts"] },
  js.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      eqeqeq: ["error", "smart"],
      // A `let` assigned once after a closure that reads it (a driver handed to the
      // executor it reports to) cannot be const.
      "prefer-const": ["error", { ignoreReadBeforeAssign: true }],
      "no-constant-binary-expression": "error",
      "no-self-compare": "error",
      "no-unused-private-class-members": "error",
      "no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      // Control characters in patterns are deliberate here: output and paths are
      // checked for terminal escapes and NULs. Runs of spaces match column layouts.
      "no-control-regex": "off",
      "no-regex-spaces": "off",
    },
  },
  {
    files: ["**/*.ts"],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ["vitest.config.ts", "bench/scale/*.ts", "bench/*/vitest.config.ts", "bench/*/*.run.ts"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // The bugs: promises dropped or handed to callers that ignore them, awaits of
      // non-promises, `return promise` inside try (its rejection skips the catch),
      // objects stringified into messages, switches that miss a new union member.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/return-await": ["error", "in-try-catch"],
      "@typescript-eslint/no-base-to-string": "error",
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true, allowNullish: true }],
      "@typescript-eslint/switch-exhaustiveness-check": ["error", { considerDefaultExhaustiveForUnions: true }],
      "@typescript-eslint/only-throw-error": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      // Not bugs in this code base: JSON, YAML and child-process output are validated
      // at the boundary (ajv, codecs) and typed from there; `any` flowing out of a
      // parser is the boundary itself. These rules would flag every such line.
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      // Async functions without await implement async interfaces (drivers, stores).
      "@typescript-eslint/require-await": "off",
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
