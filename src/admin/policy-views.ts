import {
  compileWithOverlay, overlayKey, type CompiledPolicy, type OverlayCompilation, type PolicyLoadOptions, type PolicySources, type RejectedRole,
} from '../policy/index.js';
import type { AdminStore, PolicyOverlay } from '../store/index.js';

/** The policy as the admin API must judge it: the YAML plus the overlay as the store holds it now. */
export interface PolicyView {
  readonly policy: CompiledPolicy;
  readonly sources: PolicySources;
  readonly overlay: PolicyOverlay;
  readonly rejected: readonly RejectedRole[];
}

/**
 * Compiles the admin API's view of the policy from the store's overlay, not
 * from this instance's gateway policy: another instance's write may not have
 * reached it yet, and an escalation check must not judge a stale role. The
 * last compilation is kept while neither the YAML nor the overlay changed.
 */
export class PolicyViews {
  private last: { key: string; view: PolicyView } | undefined;

  constructor(private readonly store: AdminStore, private readonly sources: () => PolicySources, private readonly opts: PolicyLoadOptions) {}

  async current(): Promise<PolicyView> {
    const overlay = await this.store.getOverlay();
    const sources = this.sources();
    const key = `${sources.hash}\0${overlayKey(overlay)}`;
    if (this.last?.key === key) return this.last.view;
    const view = this.build(sources, overlay, compileWithOverlay(sources, this.opts, overlay));
    this.last = { key, view };
    return view;
  }

  /** What the policy would be with `overlay` instead: for validating a change before it is written. */
  candidate(overlay: PolicyOverlay): PolicyView {
    const sources = this.sources();
    return this.build(sources, overlay, compileWithOverlay(sources, this.opts, overlay));
  }

  private build(sources: PolicySources, overlay: PolicyOverlay, c: OverlayCompilation): PolicyView {
    return { policy: c.policy, sources, overlay, rejected: c.rejected };
  }
}
