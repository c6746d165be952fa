/**
 * What every launcher's `doctor()` shares: its own `validate` turned into a checklist line, and a
 * refusal (`CorralError`) as a failed line. The probes themselves live with each launcher.
 */
import { CorralError } from "../errors.js";
import type { DoctorCheck, DoctorContext, Launcher, LaunchSettings } from "./launcher.js";

/** A refusal as a failed line: its message, with its hint. */
export function refusalCheck(e: CorralError, title = e.message): DoctorCheck {
  return { ok: false, title, ...(title !== e.message ? { detail: e.message } : {}), ...(e.hint ? { hint: e.hint } : {}) };
}

/** What `corral run` would refuse before creating anything (the launcher's own `validate`); none when it would not. */
export async function validateChecks(launcher: Launcher, settings: LaunchSettings, ctx: DoctorContext): Promise<DoctorCheck[]> {
  try {
    await launcher.validate({ settings, env: ctx.host.env, asks: ctx.asks });
    return [];
  } catch (e) {
    if (!(e instanceof CorralError)) throw e;
    return [refusalCheck(e, "the runs ask for more than the launcher can give")];
  }
}
