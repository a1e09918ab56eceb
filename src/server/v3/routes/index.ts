import type { RouteDef } from '../route.js';
import { API_TOKEN_ROUTES } from './api-tokens.js';
import { APP_ROUTES } from './apps.js';
import { ORGANIZATION_ROUTES } from './organizations.js';
import { AUDIT_ROUTES, BUILDPACK_ROUTES, ROOT_ROUTES, STACK_ROUTES } from './platform.js';
import { DEPLOYMENT_ROUTES } from './deployments.js';
import { LOG_CACHE_ROUTES } from './log-cache.js';
import { MANIFEST_ROUTES } from './manifests.js';
import { APP_STATE_ROUTES, PROCESS_ROUTES } from './processes.js';
import { ROLE_ROUTES } from './roles.js';
import { DOMAIN_ROUTES, ROUTE_ROUTES } from './routing.js';
import { BUILD_ROUTES, DROPLET_ROUTES, PACKAGE_ROUTES } from './staging.js';
import { SPACE_ROUTES } from './spaces.js';
import { STACK_UPDATE_ROUTES } from './stack-updates.js';
import { USER_ROUTES } from './users.js';

/** Every route of the v3 API: what createV3App registers and the OpenAPI document lists. */
export const V3_ROUTES: readonly RouteDef[] = [
  ...ROOT_ROUTES,
  ...ORGANIZATION_ROUTES,
  ...SPACE_ROUTES,
  ...ROLE_ROUTES,
  ...USER_ROUTES,
  ...APP_ROUTES,
  ...STACK_ROUTES,
  ...BUILDPACK_ROUTES,
  ...AUDIT_ROUTES,
  ...API_TOKEN_ROUTES,
  // the workload: what cf push, apps, app, scale, start, stop, restart, logs and routes call
  ...MANIFEST_ROUTES,
  ...APP_STATE_ROUTES,
  ...PACKAGE_ROUTES,
  ...BUILD_ROUTES,
  ...DROPLET_ROUTES,
  ...PROCESS_ROUTES,
  ...DOMAIN_ROUTES,
  ...ROUTE_ROUTES,
  ...DEPLOYMENT_ROUTES,
  ...LOG_CACHE_ROUTES,
  ...STACK_UPDATE_ROUTES,
];
