/** Validators of exported workflows: the published schemas, checked by maintained libraries. */
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { Workflow } from "@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/Workflow";
import { WorkflowTemplate } from "@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/WorkflowTemplate";

const schemas = new URL("../../pipeline/export/schemas/", import.meta.url);
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function compile(file: string): ValidateFunction {
  // The published schemas use keywords ajv's strict mode does not know (markdownDescription, deprecated ...).
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  return ajv.compile(JSON.parse(Deno.readTextFileSync(new URL(file, schemas))));
}

const github = compile("github-workflow.json");
const gitlab = compile("gitlab-ci.json");

function check(validate: ValidateFunction, doc: unknown): string[] {
  return validate(doc) ? [] : validate.errors!.map((e) => `${e.instancePath || "/"} ${e.message}`);
}

/** Schema errors of a GitHub Actions workflow (SchemaStore's schema), none when valid. */
export const githubWorkflowErrors = (doc: unknown): string[] => check(github, doc);

/** Schema errors of a .gitlab-ci.yml (GitLab's own schema), none when valid. */
export const gitlabCiErrors = (doc: unknown): string[] => check(gitlab, doc);

/** Throws unless `doc` is a valid Argo Workflow or WorkflowTemplate (Argo's schema). */
export function validateArgo(doc: Record<string, unknown>): void {
  const Model = doc.kind === "WorkflowTemplate" ? WorkflowTemplate : Workflow;
  // deno-lint-ignore no-explicit-any
  new Model(doc as any).validate();
}
