/** What every tab gets: the signed-in caller and the role names for pickers. */
import { api, type Me, type RoleSummary } from './api.js';
import { notify } from './notice.js';

export interface Context {
  readonly me: Me;
  /** Shown unless the API says "no": "conditional" depends on the target, and the API has the last word. */
  can(permission: string): boolean;
  /** Cached until a role is created, cloned or deleted; a failure is shown and reads as no roles. */
  roles(): Promise<RoleSummary[]>;
  rolesChanged(): void;
}

export function createContext(me: Me): Context {
  let roles: Promise<RoleSummary[]> | undefined;
  return {
    me,
    can: (permission) => (me.can[permission] ?? 'no') !== 'no',
    roles() {
      roles ??= me.can['roles:list'] === 'no' ? Promise.resolve([]) : api.roles().catch((e: unknown) => {
        roles = undefined;
        notify.error(e);
        return [];
      });
      return roles;
    },
    rolesChanged() { roles = undefined; },
  };
}
