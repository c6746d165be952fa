/**
 * Pictures of a planned DAG for `corral flow --dag dot|mermaid|json`. Jobs that will run are
 * drawn solid, up-to-date ones dashed (as Snakemake's `--dag`). Large DAGs collapse to one node
 * per rule, since a 100k-node picture helps nobody. PURE.
 */
import type { Dag } from "./dag.js";
import type { Decision } from "./uptodate.js";

/** Output formats of {@link renderDag}. */
export type DagFormat = "dot" | "mermaid" | "json";

/** Options of {@link renderDag}. */
export interface RenderDagOptions {
  /**
   * Above this many jobs, draw a rule-level graph (one node per rule, with job counts).
   * @default 500
   */
  maxJobs?: number;
}

interface RuleNode {
  rule: string;
  jobs: number;
  run: number;
}

function ruleGraph(dag: Dag, decisions: readonly Decision[]): { nodes: RuleNode[]; edges: Array<[number, number]> } {
  const idx = new Map<string, number>();
  const nodes: RuleNode[] = [];
  const edgeSet = new Set<string>();
  const edges: Array<[number, number]> = [];
  const ruleOf = new Int32Array(dag.jobs.length);
  for (const job of dag.jobs) {
    let r = idx.get(job.rule);
    if (r === undefined) {
      r = nodes.length;
      idx.set(job.rule, r);
      nodes.push({ rule: job.rule, jobs: 0, run: 0 });
    }
    ruleOf[job.id] = r;
    const n = nodes[r]!;
    n.jobs++;
    if (decisions[job.id]?.run === true) n.run++;
    for (const d of job.deps) {
      const from = ruleOf[d]!;
      const k = `${from},${r}`;
      if (!edgeSet.has(k)) {
        edgeSet.add(k);
        edges.push([from, r]);
      }
    }
  }
  return { nodes, edges };
}

function dotEscape(s: string): string {
  return s.replace(/[\\"]/g, "\\$&").replace(/\n/g, "\\n");
}

const MERMAID_ESC: Record<string, string> = {
  "#": "#35;",
  '"': "#quot;",
  "<": "#lt;",
  ">": "#gt;",
  "[": "#91;",
  "]": "#93;",
  "&": "#amp;",
};

function mermaidEscape(s: string): string {
  return s.replace(/[#"<>[\]&]/g, (c) => MERMAID_ESC[c]!);
}

/** One colour per rule, spread around the hue circle like Snakemake's DAG colours. */
function ruleColor(i: number): string {
  return `${((i * 0.618033988749895) % 1).toFixed(3)} 0.6 0.85`;
}

/**
 * Render the DAG with each job's decision. `json` gives `{collapsed, nodes, edges}` with edges as
 * `[from, to]` (job ids, or rule names when collapsed).
 */
export function renderDag(
  dag: Dag,
  decisions: readonly Decision[],
  format: DagFormat,
  opts: RenderDagOptions = {},
): string {
  const collapsed = dag.jobs.length > (opts.maxJobs ?? 500);
  const lines: string[] = [];
  if (collapsed) {
    const { nodes, edges } = ruleGraph(dag, decisions);
    const label = (n: RuleNode): string[] => [n.rule, `${n.jobs} job${n.jobs === 1 ? "" : "s"}, ${n.run} to run`];
    if (format === "json") {
      return JSON.stringify(
        { collapsed: true, nodes, edges: edges.map(([a, b]) => [nodes[a]!.rule, nodes[b]!.rule]) },
        null,
        1,
      );
    }
    if (format === "dot") {
      lines.push("digraph corral {", ...DOT_HEAD);
      nodes.forEach((n, i) => {
        const style = n.run > 0 ? "rounded" : "rounded,dashed";
        lines.push(`    r${i} [label="${dotEscape(label(n).join("\n"))}", color="${ruleColor(i)}", style="${style}"];`);
      });
      for (const [a, b] of edges) lines.push(`    r${a} -> r${b};`);
      lines.push("}");
      return lines.join("\n");
    }
    lines.push("flowchart TD");
    nodes.forEach((n, i) => {
      lines.push(`    r${i}["${label(n).map(mermaidEscape).join("<br/>")}"]:::${n.run > 0 ? "run" : "done"}`);
    });
    for (const [a, b] of edges) lines.push(`    r${a} --> r${b}`);
    lines.push(...MERMAID_TAIL);
    return lines.join("\n");
  }

  if (format === "json") {
    const nodes = dag.jobs.map((j) => {
      const d = decisions[j.id];
      return {
        id: j.id,
        rule: j.rule,
        key: j.key,
        wildcards: j.wildcards,
        outputs: j.outputs,
        run: d?.run ?? false,
        reason: d?.reason ?? null,
        detail: d?.detail ?? null,
      };
    });
    const edges: Array<[number, number]> = [];
    for (const j of dag.jobs) for (const d of j.deps) edges.push([d, j.id]);
    return JSON.stringify({ collapsed: false, nodes, edges }, null, 1);
  }
  const ruleIdx = new Map<string, number>();
  for (const j of dag.jobs) if (!ruleIdx.has(j.rule)) ruleIdx.set(j.rule, ruleIdx.size);
  const label = (j: Dag["jobs"][number]): string[] => [j.rule, ...Object.entries(j.wildcards).map(([k, v]) => `${k}=${v}`)];
  if (format === "dot") {
    lines.push("digraph corral {", ...DOT_HEAD);
    for (const j of dag.jobs) {
      const style = decisions[j.id]?.run === true ? "rounded" : "rounded,dashed";
      lines.push(
        `    j${j.id} [label="${dotEscape(label(j).join("\n"))}", color="${ruleColor(ruleIdx.get(j.rule)!)}", style="${style}"];`,
      );
    }
    for (const j of dag.jobs) for (const d of j.deps) lines.push(`    j${d} -> j${j.id};`);
    lines.push("}");
    return lines.join("\n");
  }
  lines.push("flowchart TD");
  for (const j of dag.jobs) {
    lines.push(`    j${j.id}["${label(j).map(mermaidEscape).join("<br/>")}"]:::${decisions[j.id]?.run === true ? "run" : "done"}`);
  }
  for (const j of dag.jobs) for (const d of j.deps) lines.push(`    j${d} --> j${j.id}`);
  lines.push(...MERMAID_TAIL);
  return lines.join("\n");
}

const DOT_HEAD = [
  "    graph [bgcolor=white, margin=0];",
  "    node [shape=box, style=rounded, fontname=sans, fontsize=10, penwidth=2];",
  "    edge [penwidth=2, color=grey];",
];

const MERMAID_TAIL = [
  "    classDef run fill:#fde2e1,stroke:#c0392b",
  "    classDef done fill:#eeeeee,stroke:#999999,stroke-dasharray:4",
];
