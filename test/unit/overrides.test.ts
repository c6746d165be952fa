// Override grammar: Hydra 1.3's documented examples (Basic and Extended Override syntax) and
// cases from Hydra's tests/test_overrides_parser.py, plus Corral's value spelling round trips.
import { describe, expect, it } from "vitest";
import { CorralError } from "../../src/errors.js";
import { ConfigFloat } from "../../src/plan/float.js";
import { float, parseOverride, parseOverrides, pyFloatRepr, toConfigValue } from "../../src/plan/overrides.js";
import { MAX_NESTING_DEPTH } from "../../src/plan/limits.js";
import { formatOverride, formatOverrideTerm, formatValue, withQuotes } from "../../src/plan/pyformat.js";
import type { ElementValue, QuotedString } from "../../src/plan/types.js";

const val = (text: string): unknown => parseOverride(`key=${text}`).value;
const q = (text: string, quote: "'" | '"' = "'"): QuotedString => ({ kind: "quoted", text, quote });
const choice = (values: ElementValue[], simpleForm = false) => ({ kind: "choice", values, simpleForm });

function err(text: string): CorralError {
  try {
    parseOverride(text);
  } catch (e) {
    expect(e).toBeInstanceOf(CorralError);
    return e as CorralError;
  }
  throw new Error(`expected ${text} to fail`);
}

describe("keys and override types (Basic syntax examples)", () => {
  it.each([
    ["foo.bar=value", "change", "foo.bar"],
    ["+foo.bar=value", "add", "foo.bar"],
    ["++foo.bar=value", "force_add", "foo.bar"],
    ["~foo.bar=value", "delete", "foo.bar"],
    ["db=mysql", "change", "db"],
    ["server/db=mysql", "change", "server/db"],
    ["+db=mysql", "add", "db"],
    ["+server/db=mysql", "add", "server/db"],
    ["~db=mysql", "delete", "db"],
    ["~server/db=mysql", "delete", "server/db"],
    ["list.0=1", "change", "list.0"],
    ["list.0.bar=1", "change", "list.0.bar"],
    ["hydra/launcher=basic", "change", "hydra/launcher"],
    ["choice=reverse", "change", "choice"],
    ["$db=x", "change", "$db"],
    ["a-b.c_d=x", "change", "a-b.c_d"],
  ])("%s", (text, type, key) => {
    const o = parseOverride(text);
    expect(o.type).toBe(type);
    expect(o.key).toBe(key);
    expect(o.isSweep).toBe(false);
    expect(o.input).toBe(text);
  });

  it("~key without a value has no value", () => {
    expect(parseOverride("~foo.bar")).toEqual({ type: "delete", key: "foo.bar", input: "~foo.bar", isSweep: false });
    expect(parseOverride("~db").value).toBeUndefined();
    expect(parseOverride("~server/db").key).toBe("server/db");
  });

  it("~x=10 and ~x= carry a value (Hydra's specific delete)", () => {
    expect(parseOverride("~x=10").value).toBe(10);
    expect(parseOverride("~x=").value).toBe("");
  });

  it("group@pkg and the empty (global) package", () => {
    expect(parseOverride("db@backup=mysql")).toMatchObject({ key: "db", pkg: "backup", value: "mysql" });
    expect(parseOverride("+server/db@a.b=pg")).toMatchObject({ type: "add", key: "server/db", pkg: "a.b" });
    expect(parseOverride("db@=mysql")).toMatchObject({ key: "db", pkg: "" });
  });

  it("empty value is the empty string", () => {
    expect(parseOverride("key=").value).toBe("");
    expect(parseOverride("+key=").value).toBe("");
    expect(parseOverride("key=   ").value).toBe("");
  });

  it("parseOverrides keeps order", () => {
    const os = parseOverrides(["x=10", "y=[1,2]", "z=a,b,c", "z=choice(a,b,c)"]);
    expect(os.map((o) => o.value)).toEqual([10, [1, 2], choice(["a", "b", "c"], true), choice(["a", "b", "c"])]);
    expect(os.map((o) => o.isSweep)).toEqual([false, false, true, true]);
  });
});

describe("primitives", () => {
  it.each<[string, unknown]>([
    ["abc", "abc"],
    ["abc123", "abc123"],
    ["abc-123", "abc-123"],
    ["a b c\t-\t1 2 3", "a b c\t-\t1 2 3"],
    [" abc-123 ", "abc-123"],
    ["123abc", "123abc"],
    ["10abc", "10abc"],
    ["xyz_${a.b.c}", "xyz_${a.b.c}"],
    ["${env:USER,root}", "${env:USER,root}"],
    ["${oc.env:VAR,default}", "${oc.env:VAR,default}"],
    ["${now:%Y-%m-%d}", "${now:%Y-%m-%d}"],
    ["${foo:[1,2,3]}", "${foo:[1,2,3]}"],
    ["/root/${name}", "/root/${name}"],
    ["c:\\foo\\a-b.txt", "c:\\foo\\a-b.txt"],
    ["/:-\\+.$*", "/:-\\+.$*"],
    ["a@b?c|d%e", "a@b?c|d%e"],
    [".", "."],
    ["a.b.c", "a.b.c"],
    ["value-1.0", "value-1.0"],
    ["value-true", "value-true"],
    ["oompa10", "oompa10"],
    ["loompa_12", "loompa_12"],
    ["01", "01"],
    ["infinity", "infinity"],
    ["1e", "1e"],
    ["- 1", "- 1"],
    // null / bool
    ["null", null],
    ["NULL", null],
    ["true", true],
    ["True", true],
    ["TRUE", true],
    ["trUe", true],
    ["false", false],
    ["faLse", false],
    // ints
    ["0", 0],
    ["1", 1],
    ["-1", -1],
    ["+1", 1],
    ["10", 10],
    ["-20", -20],
    ["10_0", 100],
    ["1_000_000", 1000000],
    // floats
    ["0.0", float(0)],
    ["0.51", float(0.51)],
    ["-3.14", float(-3.14)],
    ["3.1_4", float(3.14)],
    ["10e0", float(10)],
    ["-10e1", float(-100)],
    ["1e-1", float(0.1)],
    ["-10e6", float(-10e6)],
    ["1.5", float(1.5)],
    [".5", float(0.5)],
    ["5.", float(5)],
    ["1.0", float(1)],
    ["inf", float(Infinity)],
    ["INF", float(Infinity)],
    ["-inf", float(-Infinity)],
    ["+inf", float(Infinity)],
    ["nan", float(NaN)],
    ["NaN", float(NaN)],
  ])("%j", (text, expected) => {
    expect(val(text)).toEqual(expected);
  });

  it("keeps whitespace inside, trims it outside", () => {
    expect(parseOverride("msg=hello world").value).toBe("hello world");
    expect(parseOverride("msg=    hello world    ").value).toBe("hello world");
    expect(parseOverride("key= \tvalue \t").value).toBe("value");
    expect(parseOverride("key=value \t 123").value).toBe("value \t 123");
  });

  it("unescapes \\ ( ) [ ] { } : = , space and tab", () => {
    expect(val("job\\{a\\=1\\,b\\=2\\,c\\=3\\}")).toBe("job{a=1,b=2,c=3}");
    expect(val("A\\[B")).toBe("A[B");
    expect(val("a\\:b\\(c\\)\\]")).toBe("a:b(c)]");
    expect(val("x\\\\y")).toBe("x\\y");
    // An escaped space survives trimming; an escaped comma is not a sweep.
    expect(val("a\\ ")).toBe("a ");
    expect(val("1\\,2")).toBe("1,2");
    // Escaped values are strings, not numbers.
    expect(val("\\ 1")).toBe(" 1");
  });
});

describe("quoted strings", () => {
  it.each<[string, unknown]>([
    ["'hello there'", q("hello there")],
    ['"hello there"', q("hello there", '"')],
    ["'foo \\'bar'", q("foo 'bar")],
    ['"foo \\"bar"', q('foo "bar', '"')],
    ['"escaped \\"double quote\\""', q('escaped "double quote"', '"')],
    ["'escaped \\'single quote\\''", q("escaped 'single quote'")],
    ['"the path is C:\\\\\\"some folder\\"\\\\"', q('the path is C:\\"some folder"\\', '"')],
    ["'the path is C:\\\\\\'some folder\\'\\\\'", q("the path is C:\\'some folder'\\")],
    ["'1,2,3'", q("1,2,3")],
    ['"1,2,3"', q("1,2,3", '"')],
    ["'{a:10} ${xyz}'", q("{a:10} ${xyz}")],
    ["\"'single quoted string'\"", q("'single quoted string'", '"')],
    ["'\"double quoted string\"'", q('"double quoted string"')],
    ["'\t []{},=+~'", q("\t []{},=+~")],
    ["'a b c'", q("a b c")],
    ["'[1,2,3]'", q("[1,2,3]")],
    ["\"[1,'2',3]\"", q("[1,'2',3]", '"')],
    ["'null'", q("null")],
    ["'100'", q("100")],
    ["'3.14'", q("3.14")],
    ["'nan'", q("nan")],
    ["'true'", q("true")],
    ["'שלום'", q("שלום")],
    ["'  foo,bar\t'", q("  foo,bar\t")],
    ["'c:\\foo'", q("c:\\foo")],
    ["''", q("")],
  ])("%s", (text, expected) => {
    expect(val(text)).toEqual(expected);
  });

  it("quoted values stay strings in config", () => {
    expect(toConfigValue(val("'100'") as ElementValue)).toBe("100");
    expect(parseOverride('+foo="{a: 10}"').value).toEqual(q("{a: 10}", '"'));
  });
});

describe("lists and dicts", () => {
  it.each<[string, unknown]>([
    ["[]", []],
    ["[1]", [1]],
    ["[1 ]", [1]],
    ["[1,2,3]", [1, 2, 3]],
    ["[1, 2, 3]", [1, 2, 3]],
    ["[1,2,[3]]", [1, 2, [3]]],
    ["['a b']", [q("a b")]],
    ["['[a,b]']", [q("[a,b]")]],
    ["[[a]]", [["a"]]],
    ["[[[a]]]", [[["a"]]]],
    ["[1,[a]]", [1, ["a"]]],
    ["[a,[b,[c]]]", ["a", ["b", ["c"]]]],
    ["[1  ,\t2\t]", [1, 2]],
    ["['a b', 2, 3]", [q("a b"), 2, 3]],
  ])("list %s", (text, expected) => {
    expect(val(text)).toEqual(expected);
  });

  const dict = (entries: Array<[string, unknown]>) => ({ kind: "dict", entries });
  it.each<[string, unknown]>([
    ["{}", dict([])],
    ["{a:b}", dict([["a", "b"]])],
    ["{a:10}", dict([["a", 10]])],
    ["{a: 10}", dict([["a", 10]])],
    ["{a:[a,10]}", dict([["a", ["a", 10]]])],
    ["{a:[true,10]}", dict([["a", [true, 10]]])],
    ["{a:10,b:20}", dict([["a", 10], ["b", 20]])],
    ["{a:10,b:{}}", dict([["a", 10], ["b", dict([])]])],
    ["{a:10,b:{c:[1,2]}}", dict([["a", 10], ["b", dict([["c", [1, 2]]])]])],
    ["{a:[x]}", dict([["a", ["x"]]])],
    ["{a-b:1, 10:x}", dict([["a-b", 1], ["10", "x"]])],
    ["{a:${x}}", dict([["a", "${x}"]])],
  ])("dict %s", (text, expected) => {
    expect(val(text)).toEqual(expected);
  });

  it("dicts convert to plain objects, floats to floats", () => {
    // `1.0` is a float in Hydra (tests/test_overrides_parser.py, v1.3.2): a whole float is a ConfigFloat.
    expect(toConfigValue(val("{user:root,pass:1234,lr:1.0,q:'x'}") as ElementValue)).toEqual({ user: "root", pass: 1234, lr: new ConfigFloat(1), q: "x" });
    const o = toConfigValue(val("{__proto__:1}") as ElementValue) as Record<string, unknown>;
    expect(Object.keys(o)).toEqual(["__proto__"]);
  });
});

describe("sweeps", () => {
  it.each<[string, unknown]>([
    ["a,b", choice(["a", "b"], true)],
    ["1,2,3", choice([1, 2, 3], true)],
    ["1, 2, 3", choice([1, 2, 3], true)],
    ["1 ,  2,\t\t3", choice([1, 2, 3], true)],
    ["a,10,3.14", choice(["a", 10, float(3.14)], true)],
    ["${a},${b}", choice(["${a}", "${b}"], true)],
    ['"a,b","c,d"', choice([q("a,b", '"'), q("c,d", '"')], true)],
    ["[a,b],[c,d]", choice([["a", "b"], ["c", "d"]], true)],
    ["[1  ,\t2\t],[\t3\t   ,4  ]", choice([[1, 2], [3, 4]], true)],
    [
      "{a:10, b:20},{c:30,d:40}",
      choice(
        [
          { kind: "dict", entries: [["a", 10], ["b", 20]] },
          { kind: "dict", entries: [["c", 30], ["d", 40]] },
        ],
        true,
      ),
    ],
    ["mysql,postgresql", choice(["mysql", "postgresql"], true)],
    ["choice(mysql,postgresql)", choice(["mysql", "postgresql"])],
    ["choice(a)", choice(["a"])],
    ["choice (a,b)", choice(["a", "b"])],
    ["choice( 10 , 20 )", choice([10, 20])],
    ["choice\t(  1\t\t )", choice([1])],
    ["choice([1,2],[3,4])", choice([[1, 2], [3, 4]])],
    ["choice(str(10))", choice(["10"])],
    ["tag(a,b,choice(1,2))", choice([1, 2])],
  ])("%s", (text, expected) => {
    const o = parseOverride(`key=${text}`);
    expect(o.isSweep).toBe(true);
    expect(o.value).toEqual(expected);
  });

  it.each<[string, unknown]>([
    ["range(5)", { kind: "range", start: 0, stop: 5, step: 1 }],
    ["range(0,5)", { kind: "range", start: 0, stop: 5, step: 1 }],
    ["range (10,11)", { kind: "range", start: 10, stop: 11, step: 1 }],
    ["range(0,5,2)", { kind: "range", start: 0, stop: 5, step: 2 }],
    ["range(start=1,stop=10,step=2)", { kind: "range", start: 1, stop: 10, step: 2 }],
    ["range(10,step=5,stop=20)", { kind: "range", start: 10, stop: 20, step: 5 }],
    ["range(0,10,3.3)", { kind: "range", start: 0, stop: 10, step: 3.3, float: true }],
    ["range(1.0, 3.14)", { kind: "range", start: 1, stop: 3.14, step: 1, float: true }],
    ["range(-5,step=-1)", { kind: "range", start: 0, stop: -5, step: -1 }],
    ["float(range(1,10))", { kind: "range", start: 1, stop: 10, step: 1, float: true }],
    ["int(range(1.0,10.0))", { kind: "range", start: 1, stop: 10, step: 1 }],
  ])("%s", (text, expected) => {
    expect(val(text)).toEqual(expected);
  });

  it.each<[string, unknown]>([
    ["glob(*)", { kind: "glob", include: ["*"], exclude: [] }],
    ["glob(include=*)", { kind: "glob", include: ["*"], exclude: [] }],
    ["glob(include=[*])", { kind: "glob", include: ["*"], exclude: [] }],
    ["glob(*,exclude=support)", { kind: "glob", include: ["*"], exclude: ["support"] }],
    ["glob([s*,w*],exclude=school)", { kind: "glob", include: ["s*", "w*"], exclude: ["school"] }],
    ["glob(include=[a*, b*], exclude=c*)", { kind: "glob", include: ["a*", "b*"], exclude: ["c*"] }],
  ])("%s", (text, expected) => {
    expect(val(text)).toEqual(expected);
  });
});

describe("sort and shuffle", () => {
  it.each<[string, unknown]>([
    ["sort(1)", 1],
    ["sort([1])", [1]],
    ["sort([2,3,1])", [1, 2, 3]],
    ["sort(list=[1,3,2])", [1, 2, 3]],
    ["sort(list=[])", []],
    ["sort(list=[1,3,2], reverse=true)", [3, 2, 1]],
    ["sort([2,3,1],reverse=true)", [3, 2, 1]],
    ["sort([b,a,c])", ["a", "b", "c"]],
    ["sort([2,1.5,true])", [true, float(1.5), 2]],
  ])("%s", (text, expected) => {
    expect(val(text)).toEqual(expected);
  });

  it("sorts choice sweeps and flags ranges", () => {
    expect(val("sort(1,3,2)")).toMatchObject(choice([1, 2, 3], true));
    expect(val("sort(1,3,2,reverse=true)")).toMatchObject(choice([3, 2, 1], true));
    expect(val("sort(a,c,b,reverse=true)")).toMatchObject(choice(["c", "b", "a"], true));
    expect(val("sort(choice(1,2,3),reverse=true)")).toMatchObject(choice([3, 2, 1]));
    expect(val("sort(sweep=choice(3,1,2))")).toMatchObject(choice([1, 2, 3]));
    expect(val("float(sort(3,2,1))")).toMatchObject(choice([float(1), float(2), float(3)], true));
    expect(val("sort(float(3,2,1))")).toMatchObject(choice([float(1), float(2), float(3)], true));
    expect(val("sort(range(1,10),reverse=true)")).toMatchObject({ kind: "range", sort: { reverse: true } });
  });

  it("sort of mixed strings and numbers is an error (as Python's TypeError)", () => {
    expect(err("key=sort(3,2,str(1))").message).toMatch(/cannot compare/);
  });

  it("shuffle flags sweeps and shuffles lists reproducibly with a seed", () => {
    expect(val("shuffle(1,2,3)")).toEqual({ ...choice([1, 2, 3], true), shuffle: { seed: undefined } });
    expect(val("shuffle(choice(a,b,c),seed=3)")).toEqual({ ...choice(["a", "b", "c"]), shuffle: { seed: 3 } });
    expect(val("shuffle(range(1,10))")).toMatchObject({ kind: "range", shuffle: {} });
    const a = val("shuffle([1,2,3,4,5,6,7,8,9],seed=42)") as number[];
    expect([...a].sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(val("shuffle(list=[1,2,3,4,5,6,7,8,9],seed=42)")).toEqual(a);
    expect(val("shuffle([1,2,3,4,5,6,7,8,9],seed=43)")).not.toEqual(a);
    // Without a seed the injected random source decides.
    expect(parseOverride("k=shuffle([1,2,3])", { random: () => 0 }).value).toEqual([2, 3, 1]);
  });
});

describe("casts", () => {
  it.each<[string, unknown]>([
    ["int(3.14)", 3],
    ["int(value=3.14)", 3],
    ["int(10.0)", 10],
    ["float(10)", float(10)],
    ["float(float(10))", float(10)],
    ["str(10)", "10"],
    ["str(10.0)", "10.0"],
    ["str(1e6)", "1000000.0"],
    ["str(true)", "true"],
    ["bool(1)", true],
    ["bool(0)", false],
    ["bool(10.0)", true],
    ["bool(nan)", true],
    ["int('10')", 10],
    ["float('10.0')", float(10)],
    ["float('1e6')", float(1e6)],
    ["bool('false')", false],
    ["bool(TRUE)", true],
    ["int(true)", 1],
    ["float(false)", float(0)],
    ["str([1,2,3])", ["1", "2", "3"]],
    ["str({a:10})", { kind: "dict", entries: [["a", "10"]] }],
    ["float([0,1,[2]])", [float(0), float(1), [float(2)]]],
    ["bool([0,1,2])", [false, true, true]],
    ["int({a:[0,1,2]})", { kind: "dict", entries: [["a", [0, 1, 2]]] }],
    ["str( [  1,\t2  ] )", ["1", "2"]],
  ])("%s", (text, expected) => {
    expect(val(text)).toEqual(expected);
  });

  it("casts sweeps elementwise", () => {
    expect(val("float(2,1,0)")).toEqual(choice([float(2), float(1), float(0)], true));
    expect(val("str(choice(0,1))")).toEqual(choice(["0", "1"]));
    expect(val("bool(choice(0,1))")).toEqual(choice([false, true]));
    expect(val("str(a,'b',1,1.0,true,[a,b],{a:10})")).toEqual(
      choice(["a", "b", "1", "1.0", "true", ["a", "b"], { kind: "dict", entries: [["a", "10"]] }], true),
    );
  });

  it.each([
    ["int(inf)", /cannot convert inf/],
    ["int(nan)", /cannot convert nan/],
    ["int('10.0')", /invalid literal for int\(\): '10.0'/],
    ["int(foo)", /invalid literal/],
    ["float('')", /could not convert/],
    ["bool('')", /cannot cast '' to bool/],
    ["bool('10')", /cannot cast '10' to bool/],
    ["int([a,1])", /invalid literal for int\(\): 'a'/],
    ["bool({a:10,b:xyz})", /cannot cast 'xyz' to bool/],
    ["int(choice(a,b))", /invalid literal/],
    ["str(range(1,10))", /range can only be cast to int or float/],
    ["bool(range(1,10))", /range can only be cast/],
  ])("%s fails", (text, re) => {
    const e = err(`key=${text}`);
    expect(e.code).toBe("E_OVERRIDE");
    expect(e.message).toMatch(re);
  });
});

describe("errors", () => {
  it("names the column of the offending character", () => {
    const e = err("a=[1,2");
    expect(e.message).toBe("a=[1,2: expected ']' or ',' at column 7");
    expect(e.location).toEqual({ file: "<command line>", column: 7 });
    expect(e.hint).toBeTruthy();
    expect(e.exitCode).toBe(2);
  });

  it.each([
    ["key=[]aa", /unexpected 'a' at column 7/],
    ["key=[1,2,3]'", /at column 12/],
    ["key=[", /expected a value at column 6/],
    ["key=[1,]", /expected a value at column 8/],
    ["key={a}", /expected ':' after a dict key/],
    ["key={a:1", /expected '}' or ','/],
    ["key=A[B", /unexpected '\[' at column 6/],
    ["key=a=b", /unexpected '=' at column 6/],
    ["key=a]", /unmatched '\]'/],
    ["key=a#b", /character '#' is not allowed/],
    ["key=שלום", /not allowed in an unquoted value/],
    ["key='abc", /unterminated single-quoted string at column 5/],
    ["key='a'b", /after a quoted string/],
    ["key=${abc", /unterminated interpolation/],
    ["key=foo(1)", /unknown function 'foo'/],
    ["key=choise(1,2)", /unknown function 'choise'/],
    ["key=choice()", /needs at least one value/],
    ["key=range(1,2,0)", /step must not be zero/],
    ["key=range(a,2)", /start must be an int or a float/],
    ["key=range(start=10,20,1)", /positional argument follows keyword argument/],
    ["key=range(1,2,3,4)", /at most 3 positional/],
    ["key=glob(*,exlude=a)", /unexpected keyword argument 'exlude' \(did you mean 'exclude'\?\)/],
    ["key=[choice(1,2)]", /cannot appear inside a list/],
    ["key=1,range(3)", /cannot appear inside a comma-separated sweep/],
    ["key=sort([1],reverse=maybe)", /reverse must be true or false/],
    ["key=shuffle([1],seed=x)", /seed must be an integer/],
    ["foo@", /expected '=' after 'foo'/],
    ["foo@abc:x=1", /package renames/],
    ["+a", /expected '=' after 'a'/],
    ["=1", /where a key was expected at column 1/],
    ["a..b=1", /empty segment in key at column 3/],
    ["a/=1", /empty config group name/],
    ["a/b.c=1", /invalid config group name 'b.c'/],
    ["a b=1", /unexpected ' ' in key/],
    ["0=1", /invalid key segment '0'/],
  ])("%s", (text, re) => {
    const e = err(text);
    expect(e.code).toBe("E_OVERRIDE");
    expect(e.message.startsWith(`${text}: `)).toBe(true);
    expect(e.message).toMatch(re);
  });

  it("parses interval() as a sweep for search samplers (grids refuse it: search-space.test.ts)", () => {
    const o = parseOverride("lr=interval(0,1)");
    expect(o.isSweep).toBe(true);
    expect(o.value).toEqual({ kind: "interval", start: 0, end: 1 });
    expect(err("lr=shuffle(interval(0,1))").message).toContain("an interval() has no values to order");
  });
});

describe("pyformat: Hydra's spelling of values", () => {
  it.each<[ElementValue, string]>([
    [null, "null"],
    [true, "True"],
    [false, "False"],
    [10, "10"],
    [-3, "-3"],
    [float(10), "10.0"],
    [float(1), "1.0"],
    [float(0.001), "0.001"],
    [float(1e-5), "1e-05"],
    [float(0.0001), "0.0001"],
    [float(1e16), "1e+16"],
    [float(1e15), "1000000000000000.0"],
    [float(1.5e-7), "1.5e-07"],
    [float(123.456), "123.456"],
    [float(-0.5), "-0.5"],
    [float(Infinity), "inf"],
    [float(-Infinity), "-inf"],
    [float(NaN), "nan"],
    [float(9.899999999999999), "9.899999999999999"],
    [[1, 2, 3], "[1,2,3]"],
    [[], "[]"],
    [[q("a b"), 2, 3], "['a b',2,3]"],
    [{ kind: "dict", entries: [] }, "{}"],
    [{ kind: "dict", entries: [["a", 10], ["b", [1, float(2)]]] }, "{a:10,b:[1,2.0]}"],
    [q("value"), "'value'"],
    [q("value", '"'), '"value"'],
    [q("foo 'bar"), "'foo \\'bar'"],
    [q("the path is C:\\'some folder'\\"), "'the path is C:\\\\\\'some folder\\'\\\\'"],
    ["value", "value"],
    ["a b", "a\\ b"],
    ["a,b", "a\\,b"],
    ["job{a=1}", "job\\{a\\=1\\}"],
    ["${a.b}", "${a.b}"],
    ["${oc.env:VAR,default}", "${oc.env:VAR,default}"],
    ["10", "'10'"],
    ["true", "'true'"],
    ["null", "'null'"],
    ["", "''"],
    ["it's", '"it\'s"'],
    ["שלום", "'שלום'"],
  ])("%j -> %s", (v, spelled) => {
    expect(formatValue(v)).toBe(spelled);
  });

  it("round-trips through parseOverride to the same typed value", () => {
    const values: ElementValue[] = [
      null, true, 0, -7, 1_000_000, float(1), float(0.1), float(1e-5), float(2.5e20), float(-Infinity), float(NaN),
      "plain", " padded ", "a,b", "x=y", "c:\\foo\\bar", "back\\\\slash", "[1,2]", "{a:1}", "1.5", "True", "", "tab\there",
      "it's \"both\"", "${a}", "$", "a:b", "(x)", "ünïcode", "#hash", "a'b", "\\", "trailing\\",
      q("x, y"), q("a\\'b"), q("end\\", '"'), q("", '"'),
      [1, "a b", [float(2)], { kind: "dict", entries: [["k", "v,w"], ["n", null]] }],
    ];
    for (const v of values) {
      const text = formatOverride("k", v);
      const back = parseOverride(text).value as ElementValue;
      // Strings that look like numbers etc. come back quoted: the same config value, still a string.
      if (typeof v === "string") expect(toConfigValue(back), text).toBe(v);
      else expect(back, text).toEqual(v);
    }
  });

  it("formatOverrideTerm spells prefixes, packages and sweeps", () => {
    for (const t of ["+a.b=1.0", "++a=True", "~db", "~db=mysql", "db@pkg=mysql", "a=1,2,3", "a=choice(x,y)", "a=range(0,10,2)", "a=glob([a*],exclude=[b])", "a=sort(choice(3,2,1),reverse=true)", "a=shuffle(choice(1,2),seed=4)"]) {
      const o = parseOverride(t);
      expect(formatOverrideTerm(o)).toBe(t);
    }
    expect(formatOverrideTerm(parseOverride("a=10e0"))).toBe("a=10.0");
    expect(formatOverrideTerm(parseOverride("a=TRUE"))).toBe("a=True");
  });

  it("pyFloatRepr matches Python repr at the notation switch points", () => {
    expect(pyFloatRepr(0.00001234)).toBe("1.234e-05");
    expect(pyFloatRepr(0.0001234)).toBe("0.0001234");
    expect(pyFloatRepr(1234567890123456.8)).toBe("1234567890123456.8");
    expect(pyFloatRepr(12345678901234568)).toBe("1.2345678901234568e+16");
    expect(pyFloatRepr(-0)).toBe("-0.0");
    expect(pyFloatRepr(1e100)).toBe("1e+100");
    expect(withQuotes(q("a\\b"))).toBe("'a\\b'");
  });
});

describe("nesting limit (issue 11)", () => {
  const dict = (n: number): string => "{b:".repeat(n) + "1" + "}".repeat(n);
  const list = (n: number): string => "[".repeat(n) + "]".repeat(n);

  it("accepts values nested up to MAX_NESTING_DEPTH", () => {
    expect(() => parseOverride(`a=${dict(MAX_NESTING_DEPTH)}`)).not.toThrow();
    expect(() => parseOverride(`+x=${list(MAX_NESTING_DEPTH)}`)).not.toThrow();
  });

  it.each([
    ["a dict", `a=${dict(1500)}`, "a"],
    ["a list", `+x=${list(1500)}`, "x"],
    ["function calls", `s=${"str(".repeat(1500)}1${")".repeat(1500)}`, "s"],
    ["one level too deep", `k=${dict(MAX_NESTING_DEPTH + 1)}`, "k"],
  ])("refuses %s nested too deep with one message naming the key", (_what, text, key) => {
    const e = err(text);
    expect(e.code).toBe("E_OVERRIDE");
    expect(e.location?.key).toBe(key);
    expect(e.message).toMatch(new RegExp(`^${key}: the value nests more than ${MAX_NESTING_DEPTH} levels`));
    // The message does not repeat the (huge) input.
    expect(e.message.length).toBeLessThan(200);
    expect(e.hint).toMatch(/config file/);
  });
});
