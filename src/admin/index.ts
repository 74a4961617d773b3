export { createAdminServer, type AdminServerOptions, type AdminLogger } from './server.js';
export { AdminService, type Caller, type Reply } from './service.js';
export { PolicyViews, type PolicyView } from './policy-views.js';
