// One lint gate for src/ and test/. The type-aware rule that matters most here is
// no-floating-promises: a supervisor that drops a promise loses a process.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "multirun/**", "examples/**/multirun/**", "src/dashboard/static/**", "**/*.mjs", "**/*.cjs", "eslint.config.js", "vitest.config.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "error",
    },
  },
  { files: ["src/cli/**/*.ts", "test/**/*.ts", "bench/**/*.ts", "src/worker/worker-main.ts"], rules: { "no-console": "off" } },
);
