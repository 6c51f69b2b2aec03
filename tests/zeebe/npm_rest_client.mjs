// Camunda's npm REST client (@camunda8/orchestration-cluster-api) against a cluster's
// Orchestration Cluster REST API v2 - here the gateway facade - with the client's
// response validation strict: every answer must have the shape of Camunda's OpenAPI
// spec, or the client throws.
//
// Usage: node tests/zeebe/npm_rest_client.mjs REST_URL DIAGRAM_DIR
// Prints one JSON line per step; exits 1 at the first failure.
import path from 'node:path';
import { createCamundaClient } from '@camunda8/orchestration-cluster-api';

const [restUrl, diagrams] = process.argv.slice(2);
const camunda = createCamundaClient({
  config: {
    CAMUNDA_REST_ADDRESS: restUrl,
    CAMUNDA_AUTH_STRATEGY: 'NONE',
    CAMUNDA_SDK_VALIDATION: 'req:strict,res:strict',
    CAMUNDA_SDK_LOG_LEVEL: 'error',
  },
});
const now = { consistency: { waitUpToMs: 0 } };
const soon = (predicate) => ({ consistency: { waitUpToMs: 5000, pollIntervalMs: 100, predicate } });

function step(name, value) {
  console.log(JSON.stringify({ step: name, value }));
}

async function refused(name, call) {
  try {
    await call();
  } catch (error) {
    const status = error.status ?? error.statusCode ?? error.response?.status;
    step(name, { status, title: error.title ?? error.body?.title ?? null, detail: error.detail ?? error.body?.detail ?? null });
    return;
  }
  throw new Error(`${name}: expected a rejection`);
}

try {
  const topology = await camunda.getTopology();
  step('topology', { brokers: topology.brokers.length, partitions: topology.partitionsCount });

  const deployment = await camunda.deployResourcesFromFiles(
    ['user_task.bpmn', 'review-pep.form', 'jobs.bpmn'].map((f) => path.join(diagrams, f)),
  );
  step('deployment', deployment.deployments.map((d) => (d.processDefinition ? `process ${d.processDefinition.processDefinitionId}` : `form ${d.form.formId}`)));

  // a user task, as Tasklist works it
  const approval = await camunda.createProcessInstance({ processDefinitionId: 'approval', variables: { pepId: 'PEP-1', ownerUserId: 'jo.bloggs@council.example', team: ['business-support-north'] } });
  const found = await camunda.searchUserTasks(
    { filter: { processInstanceKey: approval.processInstanceKey, state: 'CREATED' } },
    soon((r) => r.items.length > 0),
  );
  const [task] = found.items;
  step('user task', { elementId: task.elementId, state: task.state });
  step('got user task', (await camunda.getUserTask({ userTaskKey: task.userTaskKey }, now)).candidateGroups);
  const variables = await camunda.searchUserTaskVariables({ userTaskKey: task.userTaskKey }, now);
  step('user task variables', variables.items.map((v) => [v.name, JSON.parse(v.value)]));
  await camunda.assignUserTask({ userTaskKey: task.userTaskKey, assignee: 'jo.bloggs@council.example' });
  await camunda.completeUserTask({ userTaskKey: task.userTaskKey, variables: { approved: true, reviewedOn: '2026-09-15' } });
  const done = await camunda.getProcessInstance({ processInstanceKey: approval.processInstanceKey }, now);
  step('approval instance', done.state);

  // jobs over REST, as a REST job worker does
  const jobs = await camunda.createProcessInstance({ processDefinitionId: 'jobs', variables: { pepId: 'P-1', sendRetries: 1 } });
  const activated = await camunda.activateJobs({ type: 'prepare-document', worker: 'npm', timeout: 60000, maxJobsToActivate: 1 });
  const [job] = activated.jobs;
  step('job', { type: job.type, variables: job.variables });
  await camunda.updateJob({ jobKey: job.jobKey, changeset: { timeout: 120000 } });
  await camunda.completeJob({ jobKey: job.jobKey, variables: { documentId: 'D-1' } });
  const vars = await camunda.searchVariables({ filter: { processInstanceKey: jobs.processInstanceKey } }, now);
  step('variables', vars.items.map((v) => v.name).sort());
  const elements = await camunda.searchElementInstances({ filter: { processInstanceKey: jobs.processInstanceKey } }, now);
  step('element instances', elements.items.map((e) => `${e.elementId}:${e.state}`));
  // an incident: a job failed with no retries left, then retried by an operator
  const [sending] = (await camunda.activateJobs({ type: 'send-document', worker: 'npm', timeout: 60000, maxJobsToActivate: 1 })).jobs;
  await camunda.failJob({ jobKey: sending.jobKey, retries: 0, errorMessage: 'relay refused' });
  const incidents = await camunda.searchIncidents({ filter: { processInstanceKey: jobs.processInstanceKey } }, now);
  step('incidents', incidents.items.map((i) => [i.elementId, i.errorType, i.state]));
  await camunda.updateJob({ jobKey: sending.jobKey, changeset: { retries: 1 } });
  await camunda.resolveIncident({ incidentKey: incidents.items[0].incidentKey });
  const [again] = (await camunda.activateJobs({ type: 'send-document', worker: 'npm', timeout: 60000, maxJobsToActivate: 1 })).jobs;
  step('retried', again.jobKey === sending.jobKey);
  const instances = await camunda.searchProcessInstances({ filter: { processDefinitionId: 'jobs' } }, now);
  step('process instances', instances.items.map((i) => i.state));
  await camunda.cancelProcessInstance({ processInstanceKey: jobs.processInstanceKey });
  step('cancelled', (await camunda.getProcessInstance({ processInstanceKey: jobs.processInstanceKey }, now)).state);
  await refused('correlation with nobody waiting', () => camunda.correlateMessage({ name: 'nobody-waits', correlationKey: 'C-1' }));

  const message = await camunda.publishMessage({ name: 'nobody-waits', correlationKey: 'C-1', timeToLive: 0 });
  step('message', typeof message.messageKey);
  const signal = await camunda.broadcastSignal({ signalName: 'nobody-listens' });
  step('signal', typeof signal.signalKey);

  const form = deployment.deployments.find((d) => d.form).form;
  const deleted = await camunda.deleteResource({ resourceKey: form.formKey });
  step('deleted', deleted.resourceKey === form.formKey);
  await refused('unknown decision', () => camunda.evaluateDecision({ decisionDefinitionId: 'pepRisk', variables: {} }));
  await refused('unknown resource', () => camunda.deleteResource({ resourceKey: '2251799813685999' }));
  step('done', true);
} catch (error) {
  console.error(error && (error.stack || error));
  if (error && error.issues) console.error(JSON.stringify(error.issues, null, 1));
  process.exit(1);
}
