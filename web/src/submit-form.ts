import type {
  ConveyorClient,
  Job,
  JsonValue,
  KindInfo,
  Priority,
  Project,
} from '../../client/src/index.js';
import { byId, el, messageOf } from './dom.js';

interface PropertySchema {
  type?: string | string[];
  enum?: JsonValue[];
  items?: PropertySchema;
  minimum?: number;
  maximum?: number;
  description?: string;
  default?: JsonValue;
}

interface ObjectSchema {
  properties?: Record<string, PropertySchema>;
  required?: string[];
}

/**
 * The projectId of a job of a kind without a workspace submitted with no project picked: the api
 * requires one, and only a workspace kind needs it to be a ready project of the caller's.
 */
const NO_PROJECT = 'none';

function text(value: JsonValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The submit form, generated from each kind's params JSON Schema, and the project picker. */
export class SubmitForm {
  private kinds: KindInfo[] = [];
  private projects: Project[] = [];

  constructor(
    private readonly client: ConveyorClient,
    private readonly onSubmitted: (job: Job) => Promise<void>,
  ) {}

  async start(): Promise<void> {
    this.kinds = await this.client.kinds();
    this.renderKinds();
    void this.loadProjects();
    byId<HTMLSelectElement>('kind').addEventListener('change', () => {
      this.renderParams();
      this.renderProjects();
    });
    byId<HTMLFormElement>('submit-form').addEventListener('submit', (event) => {
      event.preventDefault();
      void this.submit();
    });
    byId('new-project').addEventListener('click', () => void this.newProject());
  }

  private renderKinds(): void {
    const select = byId<HTMLSelectElement>('kind');
    select.replaceChildren(
      ...this.kinds.map((kind) => el('option', { value: kind.name }, kind.name)),
    );
    this.renderParams();
  }

  private kind(): KindInfo | undefined {
    return this.kinds.find((k) => k.name === byId<HTMLSelectElement>('kind').value);
  }

  /** One field per params property, from the kind's JSON Schema. */
  private renderParams(): void {
    const kind = this.kind();
    const fieldset = byId('params');
    fieldset.replaceChildren(el('legend', {}, 'params'));
    if (!kind) return;
    const schema = kind.paramsSchema as ObjectSchema;
    const required = new Set(schema.required ?? []);
    for (const [name, property] of Object.entries(schema.properties ?? {})) {
      const id = `param-${name}`;
      const hint = [property.description, required.has(name) ? 'required' : 'optional']
        .filter(Boolean)
        .join(' · ');
      fieldset.append(el('label', { for: id }, `${name} `, el('small', {}, hint)));
      fieldset.append(this.field(id, name, property, required.has(name)));
    }
  }

  private field(
    id: string,
    name: string,
    property: PropertySchema,
    required: boolean,
  ): HTMLElement {
    const type = Array.isArray(property.type)
      ? property.type.find((t) => t !== 'null')
      : property.type;
    const common = {
      id,
      name,
      'data-param': name,
      'data-type': type ?? 'json',
      ...(required && { required: '' }),
    };
    const initial = property.default === undefined ? undefined : text(property.default);
    if (property.enum) {
      const options = property.enum.map((value) =>
        el('option', { value: text(value) }, text(value)),
      );
      return el(
        'select',
        common,
        ...(required ? [] : [el('option', { value: '' }, '')]),
        ...options,
      );
    }
    if (type === 'boolean') return el('input', { ...common, type: 'checkbox' });
    if (type === 'integer' || type === 'number') {
      return el('input', {
        ...common,
        type: 'number',
        step: type === 'integer' ? '1' : 'any',
        min: property.minimum === undefined ? undefined : String(property.minimum),
        max: property.maximum === undefined ? undefined : String(property.maximum),
        placeholder: initial,
      });
    }
    if (type === 'string') return el('input', { ...common, type: 'text', placeholder: initial });
    if (type === 'array' && property.items?.type === 'string') {
      return el('textarea', {
        ...common,
        'data-type': 'lines',
        rows: '3',
        placeholder: 'one per line',
      });
    }
    return el('textarea', { ...common, 'data-type': 'json', rows: '3', placeholder: 'JSON' });
  }

  private readParams(): Record<string, JsonValue> {
    const params: Record<string, JsonValue> = {};
    for (const input of byId('params').querySelectorAll<HTMLInputElement>('[data-param]')) {
      const name = input.dataset.param ?? '';
      const type = input.dataset.type;
      if (type === 'boolean') {
        if (input.checked) params[name] = true;
        continue;
      }
      const raw = input.value.trim();
      if (raw === '') continue;
      if (type === 'integer' || type === 'number') params[name] = Number(raw);
      else if (type === 'lines')
        params[name] = raw
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean);
      else if (type === 'json') {
        try {
          params[name] = JSON.parse(raw) as JsonValue;
        } catch {
          throw new Error(`params.${name} is not valid JSON`);
        }
      } else params[name] = raw;
    }
    return params;
  }

  private async submit(): Promise<void> {
    const error = byId('submit-error');
    error.textContent = '';
    try {
      const job = await this.client.submit(byId<HTMLSelectElement>('kind').value, {
        projectId: byId<HTMLSelectElement>('project').value,
        priority: byId<HTMLSelectElement>('priority').value as Priority,
        params: this.readParams(),
      });
      await this.onSubmitted(job);
    } catch (failure) {
      error.textContent = messageOf(failure);
    }
  }

  private async loadProjects(): Promise<void> {
    this.projects = await this.client.projects();
    this.renderProjects();
  }

  /** The caller's projects by name, and "no project" for a kind that needs none. */
  private renderProjects(): void {
    const select = byId<HTMLSelectElement>('project');
    const picked = select.value;
    const workspace = this.kind()?.workspace ?? true;
    select.replaceChildren(
      ...this.projects.map((p) => el('option', { value: p.id }, `${p.name} (${p.status})`)),
      ...(workspace ? [] : [el('option', { value: NO_PROJECT }, 'no project')]),
    );
    if ([...select.options].some((option) => option.value === picked)) select.value = picked;
    byId('project-hint').textContent =
      this.projects.length > 0
        ? ''
        : workspace
          ? 'none yet: this kind needs one ("New empty project")'
          : 'none yet';
  }

  private async newProject(): Promise<void> {
    try {
      const project = await this.client.createProject({
        name: `dashboard ${new Date().toISOString()}`,
      });
      await this.loadProjects();
      byId<HTMLSelectElement>('project').value = project.id;
    } catch (error) {
      byId('submit-error').textContent = messageOf(error);
    }
  }
}
