import { describe, expect, it } from "vitest";
import {
  configInt,
  expandArrayIndexes,
  isAccountingDisabled,
  isInvalidJobId,
  maxArraySize,
  maxJobCount,
  parseJobId,
  parseSacct,
  parseSbatchParsable,
  parseScontrolConfig,
  parseScontrolJobs,
  parseSlurmDuration,
  parseSqueue,
  scontrolJob,
  slurmStateToRunState,
} from "../../src/launchers/slurm/parse.js";

// Captured from the project's test cluster (slurm-wlm 22.05.8, scripts/slurm-cluster.sh):
// jobs 1 (true), 2 (4-task gpu array), 6 (--time=1, sleep 300), 7 (exit 3), 8 (scancel'ed),
// 9 (-a 0-9%2 sleep 20), 14 (throttled array, --time=90s), 19 (--no-requeue) and 20 (default)
// running when the node was set DOWN.
const SQUEUE_RUNNING = `8|CANCELLED|None|localhost|0:01|UNLIMITED
1|COMPLETED|None|localhost|0:00|UNLIMITED
2_2|COMPLETED|None|localhost|0:01|UNLIMITED
2_3|COMPLETED|None|localhost|0:01|UNLIMITED
2_0|COMPLETED|None|localhost|0:01|UNLIMITED
2_1|COMPLETED|None|localhost|0:01|UNLIMITED
9_5|COMPLETED|None|localhost|0:20|UNLIMITED
9_4|COMPLETED|None|localhost|0:20|UNLIMITED
9_3|COMPLETED|None|localhost|0:20|UNLIMITED
9_2|COMPLETED|None|localhost|0:20|UNLIMITED
9_1|COMPLETED|None|localhost|0:20|UNLIMITED
9_0|COMPLETED|None|localhost|0:20|UNLIMITED
7|FAILED|NonZeroExitCode|localhost|0:00|UNLIMITED
9_[8-9%2]|PENDING|JobArrayTaskLimit||0:00|UNLIMITED
14_[0-1%1]|PENDING|Resources||0:00|2:00
9_7|RUNNING|None|localhost|0:10|UNLIMITED
9_6|RUNNING|None|localhost|0:15|UNLIMITED
6|TIMEOUT|TimeLimit|localhost|1:26|INVALID
`;
const SQUEUE_NODE_DOWN = `9_6|CANCELLED|BeginTime||0:00|UNLIMITED
9_7|CANCELLED|BeginTime||0:00|UNLIMITED
9_8|CANCELLED|None|localhost|0:04|UNLIMITED
9_9|CANCELLED|None|localhost|0:04|UNLIMITED
9_5|COMPLETED|None|localhost|0:20|UNLIMITED
9_4|COMPLETED|None|localhost|0:20|UNLIMITED
9_3|COMPLETED|None|localhost|0:20|UNLIMITED
9_2|COMPLETED|None|localhost|0:20|UNLIMITED
9_1|COMPLETED|None|localhost|0:20|UNLIMITED
9_0|COMPLETED|None|localhost|0:20|UNLIMITED
19|NODE_FAIL|NodeDown|localhost|0:01|UNLIMITED
20|PENDING|BeginTime||0:00|UNLIMITED
`;
const SCONTROL_FAILED = `JobId=7 JobName=wrap UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901756 Nice=0 Account=(null) QOS=(null) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=3:0 RunTime=00:00:00 TimeLimit=UNLIMITED TimeMin=N/A SubmitTime=2026-11-21T13:10:39 EligibleTime=2026-11-21T13:10:39 AccrueTime=2026-11-21T13:10:39 StartTime=2026-11-21T13:10:40 EndTime=2026-11-21T13:10:40 Deadline=N/A SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-21T13:10:40 Scheduler=Main Partition=debug AllocNode:Sid=localhost:4119 ReqNodeList=(null) ExcNodeList=(null) NodeList=localhost BatchHost=localhost NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,mem=100M,node=1,billing=1 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=1 MinMemoryCPU=100M MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=(null) WorkDir=/tmp/cap StdErr=/dev/null StdIn=/dev/null StdOut=/dev/null Power= 
`;
const SCONTROL_TIMEOUT = `JobId=6 JobName=wrap UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901757 Nice=0 Account=(null) QOS=(null) JobState=TIMEOUT Reason=TimeLimit Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=143:0 RunTime=00:01:26 TimeLimit=00:01:00 TimeMin=N/A SubmitTime=2026-11-21T13:10:39 EligibleTime=2026-11-21T13:10:39 AccrueTime=2026-11-21T13:10:39 StartTime=2026-11-21T13:10:40 EndTime=2026-11-21T13:12:06 Deadline=N/A SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-21T13:10:40 Scheduler=Main Partition=debug AllocNode:Sid=localhost:4119 ReqNodeList=(null) ExcNodeList=(null) NodeList=localhost BatchHost=localhost NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,mem=100M,node=1,billing=1 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=1 MinMemoryCPU=100M MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=(null) WorkDir=/tmp/cap StdErr=/tmp/cap/to.out StdIn=/dev/null StdOut=/tmp/cap/to.out Power= 
`;
const SCONTROL_ARRAY = `JobId=9 ArrayJobId=9 ArrayTaskId=1-9%2 ArrayTaskThrottle=2 JobName=wrap UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901754 Nice=0 Account=(null) QOS=(null) JobState=PENDING Reason=Resources Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:00:00 TimeLimit=UNLIMITED TimeMin=N/A SubmitTime=2026-11-21T13:10:41 EligibleTime=2026-11-21T13:10:41 AccrueTime=2026-11-21T13:10:41 StartTime=Unknown EndTime=Unknown Deadline=N/A SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-21T13:10:41 Scheduler=Main Partition=debug AllocNode:Sid=localhost:4119 ReqNodeList=(null) ExcNodeList=(null) NodeList= NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,mem=100M,node=1,billing=1 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=1 MinMemoryCPU=100M MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=(null) WorkDir=/tmp/cap StdErr=/dev/null StdIn=/dev/null StdOut=/dev/null Power= 
JobId=10 ArrayJobId=9 ArrayTaskId=0 ArrayTaskThrottle=2 JobName=wrap UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901754 Nice=0 Account=(null) QOS=(null) JobState=RUNNING Reason=None Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:00:03 TimeLimit=UNLIMITED TimeMin=N/A SubmitTime=2026-11-21T13:10:41 EligibleTime=2026-11-21T13:10:41 AccrueTime=Unknown StartTime=2026-11-21T13:10:41 EndTime=Unknown Deadline=N/A SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-21T13:10:41 Scheduler=Main Partition=debug AllocNode:Sid=localhost:4119 ReqNodeList=(null) ExcNodeList=(null) NodeList=localhost BatchHost=localhost NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,mem=100M,node=1,billing=1 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=1 MinMemoryCPU=100M MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=(null) WorkDir=/tmp/cap StdErr=/dev/null StdIn=/dev/null StdOut=/dev/null Power= 
`;
const SCONTROL_NODE_FAIL = `JobId=19 JobName=wrap UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901752 Nice=0 Account=(null) QOS=(null) JobState=NODE_FAIL Reason=NodeDown Dependency=(null) Requeue=0 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:15 RunTime=00:00:01 TimeLimit=UNLIMITED TimeMin=N/A SubmitTime=2026-11-21T13:12:39 EligibleTime=2026-11-21T13:12:39 AccrueTime=2026-11-21T13:12:39 StartTime=2026-11-21T13:12:44 EndTime=2026-11-21T13:12:45 Deadline=N/A SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-21T13:12:44 Scheduler=Main Partition=debug AllocNode:Sid=localhost:4119 ReqNodeList=(null) ExcNodeList=(null) NodeList=localhost BatchHost=localhost NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,mem=100M,node=1,billing=1 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=1 MinMemoryCPU=100M MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=(null) WorkDir=/tmp/cap StdErr=/dev/null StdIn=/dev/null StdOut=/dev/null Power= 
`;
const SCONTROL_REQUEUED = `JobId=20 JobName=wrap UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901751 Nice=0 Account=(null) QOS=(null) JobState=PENDING Reason=BeginTime Dependency=(null) Requeue=1 Restarts=1 BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:00:00 TimeLimit=UNLIMITED TimeMin=N/A SubmitTime=2026-11-21T13:12:45 EligibleTime=2026-11-21T13:14:46 AccrueTime=2026-11-21T13:14:46 StartTime=2026-11-21T13:14:46 EndTime=Unknown Deadline=N/A SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-21T13:12:44 Scheduler=Main Partition=debug AllocNode:Sid=localhost:4119 ReqNodeList=(null) ExcNodeList=(null) NodeList= NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,mem=100M,node=1,billing=1 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=1 MinMemoryCPU=100M MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=(null) WorkDir=/tmp/cap StdErr=/dev/null StdIn=/dev/null StdOut=/dev/null Power= 
`;
const CONFIG = `Configuration data as of 2026-11-21T13:10:44
AccountingStorageBackupHost = (null)
AccountingStorageEnforce = none
AccountingStorageHost   = localhost
ClusterName             = corral
MailDomain              = (null)
MailProg                = /bin/true
MaxArraySize            = 10001
MaxDBDMsgs              = 0
MaxJobCount             = 100000
MaxJobId                = 67043328
MaxMemPerNode           = UNLIMITED
MaxNodeCount            = 1
MaxStepCount            = 40000
MaxTasksPerNode         = 512
MCSPlugin               = mcs/none
MCSParameters           = (null)
MessageTimeout          = 10 sec
MinJobAge               = 3600 sec
MpiDefault              = none
MpiParams               = (null)
SchedulerParameters     = batch_sched_delay=0,sched_min_interval=0
X11Parameters           = (null)

Slurmctld(primary) at vm is UP
`;

describe("slurmStateToRunState", () => {
  it.each([
    ["PENDING", "pending"],
    ["RUNNING", "running"],
    ["COMPLETING", "running"],
    ["CONFIGURING", "running"],
    ["COMPLETED", "succeeded"],
    ["FAILED", "failed"],
    ["OUT_OF_MEMORY", "failed"],
    ["TIMEOUT", "timeout"],
    ["PREEMPTED", "preempted"],
    ["CANCELLED", "cancelled"],
    ["CANCELLED by 0", "cancelled"],
    ["CANCELLED+", "cancelled"],
    ["NODE_FAIL", "lost"],
    ["BOOT_FAIL", "lost"],
    ["DEADLINE", "lost"],
    ["REQUEUED", "pending"],
    ["REQUEUE_HOLD", "pending"],
    ["REQUEUE_FED", "pending"],
    ["running", "running"],
  ])("%s -> %s", (slurm, corral) => {
    expect(slurmStateToRunState(slurm)).toBe(corral);
  });
  it("gives undefined for an unknown state", () => {
    expect(slurmStateToRunState("WIBBLE")).toBeUndefined();
    expect(slurmStateToRunState("")).toBeUndefined();
  });
});

describe("parseSbatchParsable", () => {
  it("reads a bare id and id;cluster", () => {
    expect(parseSbatchParsable("123\n")).toEqual({ jobId: "123" });
    expect(parseSbatchParsable("456;corral\n")).toEqual({ jobId: "456", cluster: "corral" });
  });
  it("takes the last line", () => {
    expect(parseSbatchParsable("sbatch: warning: something\n789\n")).toEqual({ jobId: "789" });
  });
  it("throws E_SCHEDULER without an id", () => {
    expect(() => parseSbatchParsable("sbatch: error: Batch job submission failed\n")).toThrow(/no job id/);
    expect(() => parseSbatchParsable("")).toThrow(expect.objectContaining({ code: "E_SCHEDULER" }));
  });
});

describe("array ids", () => {
  it("expands ranges, lists, steps and throttles", () => {
    expect(expandArrayIndexes("4-9%2")).toEqual({ tasks: [4, 5, 6, 7, 8, 9], throttle: 2 });
    expect(expandArrayIndexes("1,3,5-7")).toEqual({ tasks: [1, 3, 5, 6, 7] });
    expect(expandArrayIndexes("0-15:4")).toEqual({ tasks: [0, 4, 8, 12] });
    expect(() => expandArrayIndexes("a-b")).toThrow(/bad array/);
  });
  it("splits job ids", () => {
    expect(parseJobId("123")).toEqual({ raw: "123", jobId: "123" });
    expect(parseJobId("123_5")).toEqual({ raw: "123_5", jobId: "123", tasks: [5] });
    expect(parseJobId("123_[4-6%2]")).toEqual({ raw: "123_[4-6%2]", jobId: "123", tasks: [4, 5, 6], throttle: 2 });
    expect(parseJobId("123.batch")).toEqual({ raw: "123.batch", jobId: "123" });
    expect(() => parseJobId("abc")).toThrow(/unrecognised/);
  });
});

describe("parseSlurmDuration", () => {
  it.each([
    ["0:00", 0],
    ["0:58", 58],
    ["1:26", 86],
    ["1:02:03", 3723],
    ["00:01:00", 60],
    ["2-01:00:05", 2 * 86400 + 3605],
    ["00:00:01.234", 1],
  ])("%s = %i s", (s, n) => expect(parseSlurmDuration(s)).toBe(n));
  it.each(["UNLIMITED", "INVALID", "NOT_SET", "N/A", ""])("%s is undefined", (s) => expect(parseSlurmDuration(s)).toBeUndefined());
});

describe("parseSqueue (captured)", () => {
  const rows = parseSqueue(SQUEUE_RUNNING);
  const byRaw = new Map(rows.map((r) => [r.raw, r]));
  it("reads every line", () => {
    expect(rows).toHaveLength(SQUEUE_RUNNING.trim().split("\n").length);
  });
  it("reads a throttled pending range", () => {
    const r = byRaw.get("9_[8-9%2]")!;
    expect(r).toMatchObject({ jobId: "9", tasks: [8, 9], throttle: 2, state: "pending", slurmState: "PENDING", reason: "JobArrayTaskLimit", nodes: "" });
  });
  it("reads running, finished and timed-out rows", () => {
    expect(byRaw.get("9_6")).toMatchObject({ jobId: "9", tasks: [6], state: "running", nodes: "localhost", elapsedS: 15 });
    expect(byRaw.get("9_6")!.remainingS).toBeUndefined();
    expect(byRaw.get("7")).toMatchObject({ state: "failed", reason: "NonZeroExitCode" });
    expect(byRaw.get("8")).toMatchObject({ state: "cancelled" });
    expect(byRaw.get("1")).toMatchObject({ state: "succeeded" });
    expect(byRaw.get("1")!.tasks).toBeUndefined();
    expect(byRaw.get("6")).toMatchObject({ state: "timeout", reason: "TimeLimit", elapsedS: 86 });
    expect(byRaw.get("6")!.remainingS).toBeUndefined();
    expect(byRaw.get("14_[0-1%1]")).toMatchObject({ tasks: [0, 1], throttle: 1, remainingS: 120 });
  });
  it("reads node failure and requeue", () => {
    const r = new Map(parseSqueue(SQUEUE_NODE_DOWN).map((x) => [x.raw, x]));
    expect(r.get("19")).toMatchObject({ state: "lost", slurmState: "NODE_FAIL", reason: "NodeDown" });
    expect(r.get("20")).toMatchObject({ state: "pending", reason: "BeginTime" });
  });
  it("throws on a line in another format", () => {
    expect(() => parseSqueue("123 RUNNING\n")).toThrow(/unexpected squeue line/);
  });
});

describe("parseSacct", () => {
  // From the notes' accounting runs and sacct(1): -X drops steps, -P separates with '|'.
  const out = [
    "2637|FAILED|2:0|00:00:00|localhost",
    "2637.batch|FAILED|2:0|00:00:00|localhost",
    "2640_3|CANCELLED by 0|0:15|00:00:12|node2",
    "2640_[4-6]|PENDING|0:0|00:00:00|None assigned",
    "2641|TIMEOUT|0:9|00:01:26|localhost",
    "2642|COMPLETED|0:0|1-00:00:01|node[1-3]",
    "",
  ].join("\n");
  const rows = parseSacct(out);
  it("skips steps and reads exit codes and signals", () => {
    expect(rows.map((r) => r.raw)).toEqual(["2637", "2640_3", "2640_[4-6]", "2641", "2642"]);
    expect(rows[0]).toMatchObject({ jobId: "2637", state: "failed", exitCode: 2, signal: 0, elapsedS: 0 });
    expect(rows[1]).toMatchObject({ jobId: "2640", tasks: [3], slurmState: "CANCELLED by 0", state: "cancelled", exitCode: 0, signal: 15, nodes: "node2" });
    expect(rows[2]).toMatchObject({ tasks: [4, 5, 6], state: "pending" });
    expect(rows[3]).toMatchObject({ state: "timeout", signal: 9, elapsedS: 86 });
    expect(rows[4]).toMatchObject({ state: "succeeded", elapsedS: 86401, nodes: "node[1-3]" });
  });
  it("recognises the accounting-disabled and purged-job answers", () => {
    expect(isAccountingDisabled("Slurm accounting storage is disabled\n")).toBe(true);
    expect(isAccountingDisabled("2637|FAILED|2:0|00:00:00|localhost")).toBe(false);
    expect(isInvalidJobId("slurm_load_jobs error: Invalid job id specified\n")).toBe(true);
  });
});

describe("parseSacct (captured with scripts/slurm-cluster.sh start --accounting)", () => {
  // 226 --time=1 running, 227 exit 3, 228 scancel'ed, 229 -a 0-5%1 sleep 2, 230 waiting for a CPU.
  const SACCT_X = `226|RUNNING|0:0|00:00:05|localhost
227|FAILED|3:0|00:00:00|localhost
228|CANCELLED by 0|0:0|00:00:01|localhost
230|PENDING|0:0|00:00:00|None assigned
229_0|COMPLETED|0:0|00:00:02|localhost
229_1|RUNNING|0:0|00:00:02|localhost
229_[2-5%1]|PENDING|0:0|00:00:00|None assigned
`;
  // Without -X: the .batch steps, which parseSacct skips.
  const SACCT_STEPS = `227|FAILED|3:0|00:00:00|localhost
227.batch|FAILED|3:0|00:00:00|localhost
228|CANCELLED by 0|0:0|00:00:01|localhost
228.batch|CANCELLED|0:15|00:00:01|localhost
`;
  it("reads states, exit codes, array rows", () => {
    const r = new Map(parseSacct(SACCT_X).map((x) => [x.raw, x]));
    expect(r.size).toBe(7);
    expect(r.get("226")).toMatchObject({ state: "running", elapsedS: 5, nodes: "localhost" });
    expect(r.get("227")).toMatchObject({ state: "failed", exitCode: 3, signal: 0 });
    expect(r.get("228")).toMatchObject({ slurmState: "CANCELLED by 0", state: "cancelled" });
    expect(r.get("230")).toMatchObject({ state: "pending", nodes: "None assigned" });
    expect(r.get("229_0")).toMatchObject({ jobId: "229", tasks: [0], state: "succeeded", elapsedS: 2 });
    expect(r.get("229_1")).toMatchObject({ jobId: "229", tasks: [1], state: "running" });
    expect(r.get("229_[2-5%1]")).toMatchObject({ jobId: "229", tasks: [2, 3, 4, 5], throttle: 1, state: "pending" });
  });
  it("reads the same job once its time limit hit", () => {
    // Captured 87 s after submit with --time=1; the exit code stays 0:0 in sacct.
    expect(parseSacct("226|TIMEOUT|0:0|00:01:27|localhost\n")[0]).toMatchObject({ state: "timeout", elapsedS: 87, exitCode: 0, signal: 0 });
  });
  it("skips step rows", () => {
    expect(parseSacct(SACCT_STEPS).map((x) => x.raw)).toEqual(["227", "228"]);
  });
});

describe("scontrol show config (captured)", () => {
  const cfg = parseScontrolConfig(CONFIG);
  it("maps keys to values", () => {
    expect(cfg.get("ClusterName")).toBe("corral");
    expect(cfg.get("SchedulerParameters")).toBe("batch_sched_delay=0,sched_min_interval=0");
    expect(cfg.get("MailDomain")).toBe("(null)");
    expect(cfg.has("Configuration data as of 2026-11-21T13:10:44")).toBe(false);
  });
  it("reads the limits", () => {
    expect(maxArraySize(cfg)).toBe(10001);
    expect(maxJobCount(cfg)).toBe(100000);
    expect(configInt(cfg, "MinJobAge")).toBe(3600);
    expect(configInt(cfg, "MaxMemPerNode")).toBeUndefined();
  });
  it("falls back to SLURM's defaults", () => {
    const empty = parseScontrolConfig("");
    expect(maxArraySize(empty)).toBe(1001);
    expect(maxJobCount(empty)).toBe(10000);
  });
});

describe("scontrol show job -o (captured)", () => {
  it("reads a failed job", () => {
    const [rec] = parseScontrolJobs(SCONTROL_FAILED);
    expect(rec!["AllocNode:Sid"]).toBe("localhost:4119");
    expect(rec!["CPUs/Task"]).toBe("1");
    expect(rec!.Power).toBe("");
    expect(scontrolJob(rec!)).toEqual({
      jobId: "7",
      slurmState: "FAILED",
      state: "failed",
      reason: "NonZeroExitCode",
      exitCode: 3,
      signal: 0,
      restarts: 0,
      nodes: "localhost",
    });
  });
  it("reads a timed-out job", () => {
    const j = scontrolJob(parseScontrolJobs(SCONTROL_TIMEOUT)[0]!);
    expect(j).toMatchObject({ state: "timeout", reason: "TimeLimit", exitCode: 143 });
  });
  it("reads one record per line of an array", () => {
    const recs = parseScontrolJobs(SCONTROL_ARRAY).map(scontrolJob);
    expect(recs).toHaveLength(2);
    expect(recs[0]).toMatchObject({ jobId: "9", arrayJobId: "9", tasks: [1, 2, 3, 4, 5, 6, 7, 8, 9], state: "pending", reason: "Resources" });
    expect(recs[1]).toMatchObject({ jobId: "10", arrayJobId: "9", tasks: [0], state: "running" });
  });
  it("reads node failure and requeue", () => {
    expect(scontrolJob(parseScontrolJobs(SCONTROL_NODE_FAIL)[0]!)).toMatchObject({ state: "lost", reason: "NodeDown" });
    expect(scontrolJob(parseScontrolJobs(SCONTROL_REQUEUED)[0]!)).toMatchObject({ state: "pending", reason: "BeginTime", restarts: 1 });
  });
  it("keeps values with spaces whole", () => {
    const [rec] = parseScontrolJobs("JobId=5 JobName=x JobState=PENDING Reason=Nodes required for job are DOWN Dependency=(null) Command=/a b/run.sh WorkDir=/tmp");
    expect(rec!.Reason).toBe("Nodes required for job are DOWN");
    expect(rec!.Command).toBe("/a b/run.sh");
    expect(rec!.WorkDir).toBe("/tmp");
  });
});
