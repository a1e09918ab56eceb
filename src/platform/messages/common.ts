import { z } from 'zod';
import { unprocessable } from '../cf-errors.js';
import { keyError, valueError } from '../label-selector.js';

/**
 * What every request message shares: CC's error texts for invalid input (ActiveModel's
 * full messages: "Name can't be blank", "Unknown field(s): 'x'"), the metadata block
 * and its label rules, to-one relationships, and validating a body into a typed value.
 */

/** "per_page" -> "Per page", as ActiveModel humanizes an attribute. */
export function humanize(path: readonly PropertyKey[]): string {
  const text = path
    .filter((p) => typeof p === 'string')
    .join(' ')
    .replace(/_/g, ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** CC's full messages for zod's issues: "<Attribute> <message>", or the bare message for the whole object. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const message =
      issue.code === 'unrecognized_keys' ? `Unknown field(s): '${issue.keys.join("', '")}'` : issue.message;
    const prefix = humanize(issue.path);
    return prefix === '' ? message : `${prefix} ${message}`;
  });
}

/**
 * Validates a request body against its message; CC's 422 UnprocessableEntity with every
 * error, joined by ", ", when it does not fit.
 */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body);
  if (!result.success) throw unprocessable(formatIssues(result.error.issues).join(', '));
  return result.data;
}

/** A string field with CC's texts: "can't be blank" when missing, "must be a string" otherwise. */
export function requiredString(): z.ZodString {
  return z.string({ error: (iss) => (iss.input === undefined ? "can't be blank" : 'must be a string') });
}

export function optionalString(): z.ZodOptional<z.ZodString> {
  return z.string({ error: 'must be a string' }).optional();
}

export function optionalBoolean(): z.ZodOptional<z.ZodBoolean> {
  return z.boolean({ error: 'must be a boolean' }).optional();
}

/** CC's ORG_NAME_REGEX / SPACE_NAME_REGEX: printable characters, no escapes. */
export const NAME_PATTERN = /^[^\p{Cc}]+$/u;

/** `{"data":{"guid":"..."}}`, a to-one relationship as CC's ToOneRelationshipValidator accepts it. */
export function toOne() {
  return z.strictObject(
    { data: z.strictObject({ guid: z.string({ error: 'must be a string' }) }, { error: 'must be an object' }) },
    { error: 'must be a to-one relationship' },
  );
}

// metadata (CC: MetadataValidator; the key and value rules are the label selector's)

const MAX_ANNOTATION_VALUE = 5000;

const metadataValues = z.record(z.string(), z.string().nullable(), {
  error: 'must be an object of strings (null removes a key)',
});

/** `metadata: {labels, annotations}` of a create or update; a null value removes the key. */
export const MetadataPatchSchema = z
  .strictObject(
    { labels: metadataValues.optional(), annotations: metadataValues.optional() },
    { error: 'must be an object' },
  )
  .superRefine((m, ctx) => {
    for (const [key, value] of Object.entries(m.labels ?? {})) {
      const keyProblem = keyError(key);
      if (keyProblem) ctx.addIssue({ code: 'custom', message: `label key error: ${keyProblem}` });
      const valueProblem = value === null ? undefined : valueError(value);
      if (valueProblem) ctx.addIssue({ code: 'custom', message: `label value error: ${valueProblem}` });
    }
    for (const [key, value] of Object.entries(m.annotations ?? {})) {
      const keyProblem = keyError(key);
      if (keyProblem) ctx.addIssue({ code: 'custom', message: `annotation key error: ${keyProblem}` });
      if (value !== null && value.length > MAX_ANNOTATION_VALUE)
        ctx.addIssue({
          code: 'custom',
          message: `annotation value error: '${value.slice(0, 8)}...' is greater than ${MAX_ANNOTATION_VALUE} characters`,
        });
    }
  })
  .meta({ description: 'Labels and annotations; a null value removes the key.' });

export type MetadataPatchInput = z.output<typeof MetadataPatchSchema>;
