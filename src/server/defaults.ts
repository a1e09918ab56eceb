/** The shared domain of apps' default routes (APP.<domain>), apart so the CLI reads it without loading the platform. */
export const DEFAULT_APPS_DOMAIN = 'apps.localhost';
