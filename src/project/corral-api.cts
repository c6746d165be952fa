/**
 * `require("corral")` from a project file that tsx compiles to CommonJS (see registerCorralResolver
 * in load.ts): the API of the Corral that is loading the file, handed over through a global, so
 * the library is not compiled and loaded a second time for the config.
 */
export = (globalThis as Record<symbol, unknown>)[Symbol.for("corral.api")];
