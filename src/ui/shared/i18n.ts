// Every string the page shows, in English and Chinese. The two dictionaries must have the same
// keys and the same {placeholders} (test/ui-i18n.test.ts checks both), so a missing translation
// is a failing test rather than a blank label.

import { enApp, zhApp } from './messages-app.ts';

export type Lang = 'en' | 'zh';
export const LANGS: Lang[] = ['en', 'zh'];

const en = {
  'app.title': 'Webtune',
  'app.tagline': 'Fine-tune Qwen2.5 and Qwen3 with LoRA on your own GPU or CPU, in this page',
  'app.language': 'Language',
  'app.steps': 'Steps',
  'app.offlineReady': 'Works offline',
  'app.workerFailed': 'The training worker could not start: {message}',

  'screen.model': 'Model',
  'screen.data': 'Data',
  'screen.train': 'Train',
  'screen.eval': 'Evaluate',
  'screen.chat': 'Playground',
  'screen.export': 'Export',

  'status.ready': 'ready',
  'status.loading': 'loading',
  'status.none': 'not loaded',
  'status.error': 'error',

  'engine.title': 'Engine',
  'engine.auto': 'Automatic',
  'engine.webgpu': 'WebGPU',
  'engine.cpu': 'CPU',
  'engine.probing': 'Looking for a GPU…',
  'engine.gpuFound': 'WebGPU available: {adapter}',
  'engine.gpuMissing': 'WebGPU is not available here; training runs on the CPU, slowly.',
  'engine.using': 'Runs on {device}',
  'engine.help':
    'Automatic uses a hardware GPU through WebGPU, never a software renderer; for a small model it times one step on both engines and keeps the faster. Force CPU to compare or when the GPU misbehaves.',
  'engine.reloadNeeded': 'Reload the model to switch engines.',
  'quant.title': 'Base weights',
  'quant.auto': 'Automatic',
  'quant.none': '16-bit',
  'quant.nf4': '4-bit base (QLoRA)',
  'quant.help':
    'QLoRA keeps the base’s seven projections in 4-bit NF4 (as bitsandbytes does) and trains the same 16/32-bit adapter: about half the memory, slightly different numbers. Automatic picks it only when the 16-bit plan does not fit this engine.',
  'quant.reloadNeeded': 'Reload the model to switch base weights.',
  'quant.loaded16': 'Base weights: 16-bit',
  'quant.loadedNf4': 'Base weights: 4-bit NF4 (QLoRA); {cached} projections read already quantized from the cache',

  'model.title': 'Base model',
  'model.lead':
    'Choose the model to fine-tune. The built-in tiny model is ready at once; hub models download once and stay cached in this browser.',
  'model.source': 'Source',
  'model.source.builtin': 'Built-in tiny model',
  'model.source.hf': 'Hugging Face',
  'model.source.modelscope': 'ModelScope',
  'model.source.url': 'URL',
  'model.source.local': 'Local folder',
  'model.builtinHelp':
    'A tiny random Qwen2-shaped model shipped with the page: it trains in seconds and shows the whole flow. Its answers are only as good as a few minutes of training make them.',
  'model.repo': 'Repository',
  'model.revision': 'Revision',
  'model.baseUrl': 'Base URL (folder with config.json)',
  'model.folder': 'Model folder',
  'model.folderHelp':
    'Pick or drop the folder that huggingface-cli or modelscope download wrote: config.json, tokenizer.json, model.safetensors.',
  'model.dropHere': 'Drop a model folder here',
  'model.filesPicked': '{count, plural, one {# file} other {# files}} picked from {name}',
  'model.load': 'Load model',
  'model.reload': 'Load again',
  'model.loading': 'Loading…',
  'model.cancel': 'Cancel download',
  'model.phase.check': 'Checking files',
  'model.phase.download': 'Downloading',
  'model.phase.cache': 'Reading from cache',
  'model.phase.verify': 'Verifying',
  'model.phase.load': 'Loading into the engine',
  'model.phase.done': 'Done',
  'model.progress': '{file}: {done} of {total}',
  'model.speed': '{speed}/s, {eta} left',
  'model.loaded': '{name} loaded',
  'model.params': '{count} parameters, {lora} trainable (LoRA)',
  'model.shape': '{layers} layers, hidden {hidden}, {heads} heads, vocabulary {vocab}',
  'model.fromCache': 'from cache',
  'model.cached': 'Cached models',
  'model.cachedNone': 'Nothing cached yet.',
  'model.delete': 'Delete',
  'model.failed': 'The model could not be loaded: {message}',
  'model.needRepo': 'Enter a repository such as {example}.',
  'model.needUrl': 'Enter a base URL.',
  'model.needFolder': 'Pick a model folder first.',
  'model.tooBig':
    'This model cannot fit here: {message}. Nothing was downloaded; pick a smaller model, a shorter max length or a smaller batch.',
  'catalog.title': 'Models at batch {batch} × max length {seq} on the {engine} engine:',
  'catalog.model': 'Model',
  'catalog.download': 'Download',
  'catalog.memory16': 'Memory (16-bit weights)',
  'catalog.memory4': 'Memory (4-bit base, QLoRA)',
  'catalog.fits': 'fits',
  'catalog.noMemory': 'needs {need}, the engine holds {limit}',
  'catalog.noBinding': '{tensor} needs {need} in one buffer, the GPU allows {limit}',
  'catalog.thinkingOff': 'hybrid thinking model: trained and asked with thinking off',
  'catalog.preset': 'preset: batch {batch} × accumulation {accum}',
  'catalog.gpuNote':
    'WebGPU does not tell how much GPU memory is free: “fits” means within the adapter’s buffer limits; the total must also be free on the GPU.',
  'catalog.cpuNote': 'The CPU engine keeps weights, adapter and activations in one 4 GB WebAssembly memory.',

  'adapter.title': 'Adapter (optional)',
  'adapter.help':
    'Apply a PEFT adapter folder (adapter_config.json + adapter_model.safetensors), for example one the training-job script produced, to evaluate it, chat with it or export it.',
  'adapter.pick': 'Adapter folder',
  'adapter.drop': 'Drop an adapter folder here',
  'adapter.applied':
    'Adapter {name} applied: r {r}, alpha {alpha}, {targets, plural, one {# projection type} other {# projection types}}',
  'adapter.failed': 'The adapter could not be applied: {message}',
  'adapter.needModel': 'Load a base model first.',

  'memory.title': 'Memory plan',
  'memory.weights': 'Base weights (embedding and norms stay 16-bit)',
  'memory.lora': 'LoRA (weights, gradients, Adam)',
  'memory.activations': 'Activations (batch {batch} × {seq} tokens)',
  'memory.residuals': 'Saved layer inputs',
  'memory.total': 'Total',
  'memory.checkpointingOn':
    'Gradient checkpointing is on: backward recomputes each layer, so only one layer’s activations exist at a time.',
  'memory.checkpointingOff': 'Every layer’s activations are kept (they fit), so backward skips the recomputation.',
  'memory.checkpointingPartial':
    'Every layer’s activations are kept for micro-batches of up to {tokens} tokens (batch × padded length; {budget} at most); a longer one recomputes each layer in backward.',
  'memory.kernels': 'GPU kernels: {path}',
  'memory.allocated': 'Allocated when the model was loaded: {size} (planned {planned}).',
  'memory.gpuUnknown':
    'Browsers do not report free GPU memory. If the GPU runs out, Webtune says so and names a batch size and max length that fit.',
  'memory.noModel': 'Load a model to see how much memory these settings need.',
  'memory.storage': 'Browser storage: {used} used of {quota}',

  'data.title': 'Dataset',
  'data.import': 'Import',
  'data.help':
    'JSON array or JSONL of {"instruct", "input", "output"} rows (the meeting assistant format), Alpaca, chat "messages" or ShareGPT "conversations"; or a CSV/TSV table, whose columns you then map. The format is detected.',
  'data.pick': 'Choose file',
  'data.drop': 'Drop a .json or .jsonl file here',
  'data.paste': 'Paste data',
  'data.pasteLabel': 'Dataset text',
  'data.importPasted': 'Import pasted text',
  'data.sample': 'Use sample meeting data',
  'data.loadedFrom': '{name}: {rows, plural, one {# row} other {# rows}} ({format})',
  'data.none': 'No dataset yet.',
  'data.issues': '{count, plural, one {# problem} other {# problems}} in {name}',
  'data.issuesKept':
    'Rows with problems were skipped; the other {rows, plural, one {# row was} other {# rows were}} imported.',
  'data.failedKept': 'Nothing was imported from {name}; the previous dataset is kept.',
  'data.failed': 'Nothing was imported from {name}.',
  'data.issueLine': 'line {line}',
  'data.issueRow': 'row {index}',
  'data.issueField': 'field “{field}”',
  'data.preview': 'Preview',
  'data.col.index': '#',
  'data.col.user': 'Input',
  'data.col.answer': 'Expected output',
  'data.col.tokens': 'Tokens',
  'data.moreRows': '… and {count, plural, one {# more row} other {# more rows}}',
  'data.split': 'Train / eval split',
  'data.evalFraction': 'Held out for evaluation',
  'data.evalFile': 'Or import a separate evaluation file',
  'data.evalFromFile': 'Evaluation rows come from {name} ({rows, plural, one {# row} other {# rows}}).',
  'data.useSplit': 'Use split instead',
  'data.splitCounts':
    '{train, plural, one {# training row} other {# training rows}}, {eval, plural, one {# evaluation row} other {# evaluation rows}}',
  'data.histogram': 'Token lengths',
  'data.histogramLabel': 'Histogram of token lengths per example; the red line is the max length {max}',
  'data.truncated':
    '{count, plural, one {# example is} other {# examples are}} longer than the max length ({max}) and will be truncated.',
  'data.noneTruncated': 'Every example fits in the max length ({max}).',
  'data.meanTokens': 'mean {mean} tokens, longest {max}',
  'data.importing': 'Importing {name}: {rows, plural, one {# row} other {# rows}} read ({percent})…',
  'data.encoding': 'The file is not UTF-8: it was read as {encoding}.',
  'data.normalized':
    '{count, plural, one {# JSON answer was} other {# JSON answers were}} rewritten in the compact form (no spaces, characters unescaped): the one form trained, written by the model and constrained.',
  'data.duplicates':
    '{count, plural, one {# row repeats} other {# rows repeat}} an earlier row word for word and {count, plural, one {was} other {were}} left out, so no row can be both trained on and held out:',
  'data.sampled': 'Token counts of an even sample of {rows} of the {total} rows.',
  'data.truncatedShare': 'About {share} of the examples are longer than the max length ({max}) and will be truncated.',
  'data.noAnswer':
    '{count, plural, one {# example has a prompt that fills the max length ({max}): no answer token is left, so it will be skipped. Raise the max length to train on it.} other {# examples have a prompt that fills the max length ({max}): no answer token is left, so they will be skipped. Raise the max length to train on them.}}',
  'data.noAnswerShare':
    'About {share} of the examples have a prompt that fills the max length ({max}): no answer token is left, so they will be skipped. Raise the max length to train on them.',
  'data.needModel': 'Load a model first: its tokenizer counts the tokens.',
  'data.system': 'System prompt',
  'data.systemHelp': 'Put before every example, as in training with PEFT: the model learns to answer after it.',
  'data.allowControlText': 'Allow control tokens (<|im_end|>, <think>...) spelled in the data, as plain text',

  'train.title': 'Training',
  'train.hyper': 'Hyperparameters',
  'train.r': 'LoRA rank r',
  'train.r.help': 'Size of the low-rank update; more rank, more capacity and memory.',
  'train.alpha': 'LoRA alpha',
  'train.alpha.help': 'The update is scaled by alpha / r.',
  'train.dropout': 'LoRA dropout',
  'train.dropout.help': 'Randomly drops inputs of the LoRA path during training, against overfitting.',
  'train.targets': 'Target modules',
  'train.targets.help': 'Projections that get a LoRA adapter; all seven is what the PEFT recipe uses.',
  'train.batch': 'Batch size',
  'train.batch.help': 'Examples per micro-batch; limited by memory.',
  'train.accum': 'Gradient accumulation',
  'train.accum.help': 'Micro-batches summed per optimizer step; effective batch = batch × accumulation.',
  'train.lr': 'Learning rate',
  'train.lr.help': 'AdamW step size at the peak of the schedule.',
  'train.epochs': 'Epochs',
  'train.epochs.help': 'Passes over the training rows.',
  'train.maxLength': 'Max length',
  'train.maxLength.help': 'Tokens per example (prompt + answer); longer ones are cut.',
  'train.schedule': 'Learning-rate schedule',
  'train.schedule.help': 'Linear decays to zero over the run, as the Hugging Face Trainer does.',
  'train.schedule.linear': 'Linear',
  'train.schedule.cosine': 'Cosine',
  'train.schedule.constant': 'Constant',
  'train.warmup': 'Warmup steps',
  'train.warmup.help': 'Steps that ramp the learning rate up from zero.',
  'train.weightDecay': 'Weight decay',
  'train.weightDecay.help': 'Decoupled AdamW decay of the LoRA weights.',
  'train.maxGradNorm': 'Max gradient norm',
  'train.maxGradNorm.help': 'Gradients are scaled down when their global norm exceeds this.',
  'train.seed': 'Seed',
  'train.seed.help': 'Fixes the LoRA initialisation, the data order and the dropout masks.',
  'train.evalEvery': 'Evaluate every',
  'train.evalEvery.help': 'Eval loss every N optimizer steps (0: at the end only).',
  'train.reset': 'Restore defaults',
  'train.start': 'Start training',
  'train.pause': 'Pause',
  'train.resume': 'Resume',
  'train.stop': 'Stop',
  'train.restart': 'Train again from scratch',
  'train.needModel': 'Load a model first.',
  'train.needData': 'Import a dataset first.',
  'train.state.idle': 'Not started',
  'train.state.starting': 'Starting…',
  'train.state.running': 'Training',
  'train.state.paused': 'Paused',
  'train.state.stopped': 'Stopped',
  'train.state.done': 'Finished',
  'train.state.error': 'Failed',
  'train.step': 'Step {step} of {total}',
  'train.epoch': 'Epoch {epoch} of {total}',
  'train.loss': 'Loss',
  'train.evalLoss': 'Eval loss',
  'train.trainLoss': 'Train loss',
  'train.tokensPerSec': 'Tokens per second',
  'train.eta': 'Time left',
  'train.lrNow': 'Learning rate',
  'train.gradNorm': 'Gradient norm',
  'train.resumedFrom': 'Resumed from the checkpoint at step {step}.',
  'train.checkpointFound':
    'A saved run of this model, data and settings is at step {step} of {total} ({when}): {rows} training examples, learning rate {lr}, {epochs} epochs. Resume continues it.',
  'train.checkpointSaved': 'Checkpoint saved at step {step}.',
  'train.checkpointNoSpace':
    "The checkpoint at step {step} could not be saved: it needs {mib} MiB and the browser's storage is full. Training goes on; free space (delete cached models or old runs) or export the adapter now.",
  'train.exportNow': 'Export adapter now',
  'train.failed': 'Training failed: {message}',
  'train.noLabels': 'Nothing to train on: {message}. Raise the max length.',
  'train.controlText':
    'Some rows spell a chat control token and would be read as that token (a new turn, or the end of the answer): {message}. Remove it from those rows, or tick "Allow control tokens" on the Data screen to train on it as plain text.',
  'train.skipped':
    '{count, plural, one {# training example was left out: its prompt fills} other {# training examples were left out: their prompt fills}} the max length ({max}), so no answer token is left to learn.',
  'train.chartLabel': 'Loss per optimizer step: train loss {train}, eval loss {eval}',
  'train.chartEmpty': 'The loss curve appears here once training starts.',
  'train.stepsPlanned':
    '{steps, plural, one {# optimizer step} other {# optimizer steps}}: {rows, plural, one {# row} other {# rows}} × {epochs, plural, one {# epoch} other {# epochs}} ÷ (batch {batch} × accumulation {accum})',

  'eval.title': 'Accuracy on the evaluation rows',
  'eval.run': 'Evaluate',
  'eval.running': 'Evaluating {done} of {total}…',
  'eval.needModel': 'Load a model and import data first.',
  'eval.noRows': 'There are no evaluation rows; hold some out on the Data screen.',
  'eval.exact': 'Exact match',
  'eval.intent': 'Intent accuracy',
  'eval.slotF1': 'Slot F1',
  'eval.noSlots': 'No parameters expected or predicted: nothing to score',
  'eval.slotPrecision': 'Slot precision',
  'eval.slotRecall': 'Slot recall',
  'eval.invalidJson': 'Invalid JSON',
  'eval.loss': 'Eval loss',
  'eval.perIntent': 'Per intent',
  'eval.col.intent': 'Intent',
  'eval.col.count': 'Rows',
  'eval.wrong': 'Wrong answers ({count})',
  'eval.noneWrong': 'Every answer was right.',
  'eval.col.input': 'Input',
  'eval.col.expected': 'Expected',
  'eval.col.got': 'Generated',
  'eval.failed': 'Evaluation failed: {message}',
  'eval.skipped':
    '{count, plural, one {# row was left out because its prompt and answer do} other {# rows were left out because their prompt and answer do}} not fit the model’s {positions} positions: {rows}.',
  'eval.adapterNote': 'Evaluates the current adapter with greedy decoding and the training prompt.',

  'chat.title': 'Playground',
  'chat.prompt': 'Message',
  'chat.placeholder': 'e.g. 创建汇报会会议',
  'chat.send': 'Send to both',
  'chat.stop': 'Stop',
  'chat.base': 'Base model',
  'chat.tuned': 'Tuned model (with the adapter)',
  'chat.waiting': 'Waiting…',
  'chat.empty': 'Nothing generated yet.',
  'chat.emptyAnswer': '(The model ended its answer at once: an empty reply.)',
  'chat.maxTokens': 'Max new tokens',
  'chat.temperature': 'Temperature (0 = greedy)',
  'chat.failed': 'Generation failed: {message}',
  'chat.tokens': '{count, plural, one {# token} other {# tokens}}',
  'chat.needModel': 'Load a model first.',

  'export.title': 'Export',
  'export.help': 'Download the result to use it elsewhere. Nothing is uploaded.',
  'export.peft': 'PEFT adapter',
  'export.peft.help': 'adapter_config.json + adapter_model.safetensors: PeftModel.from_pretrained, vLLM.',
  'export.merged': 'Merged model',
  'export.merged.help': 'A full Hugging Face folder with W + BA folded in (BF16).',
  'export.gguf': 'GGUF adapter',
  'export.gguf.help': 'A LoRA adapter for llama.cpp (--lora).',
  'export.job': 'Training job',
  'export.job.help': 'A zip with the dataset and a PyTorch + PEFT script with the same settings.',
  'export.download': 'Download',
  'export.working': 'Preparing…',
  'export.done': 'Downloaded {files}',
  'export.failed': 'Export failed: {message}',
  'export.needModel': 'Load a model first.',
  'export.notTrained': 'The adapter has not been trained yet: these files hold its initial weights.',

  'error.where.model': 'Model',
  'error.where.data': 'Data',
  'error.where.train': 'Training',
  'error.where.eval': 'Evaluation',
  'error.where.chat': 'Playground',
  'error.where.export': 'Export',
  'error.dismiss': 'Dismiss',

  'unit.bytes': '{value} B',
  'unit.kb': '{value} KB',
  'unit.mb': '{value} MB',
  'unit.gb': '{value} GB',

  'schema.title': 'Tool schema',
  'schema.lead':
    'Describe the tools: their parameters, the values to fill in, and utterance templates with {param} placeholders. Rows are built from it, and decoding can be held to it so every answer is a valid call.',
  'schema.sample': 'Use sample meeting schema',
  'schema.import': 'Import schema',
  'schema.drop': 'Drop a schema .json file here',
  'schema.export': 'Export schema',
  'schema.apply': 'Apply changes',
  'schema.inUse': 'In use: {name}, {tools, plural, one {# tool} other {# tools}}',
  'schema.dirty': 'Edited, not applied yet: rows and constrained decoding still use the applied schema.',
  'schema.none': 'No tool schema yet. Import one or start from the sample.',
  'schema.problems': '{count, plural, one {# problem} other {# problems}} in {name}; nothing was changed',
  'schema.toolName': 'Name',
  'schema.description': 'Description',
  'schema.templates': 'Templates, one per line',
  'schema.params': 'Parameters',
  'schema.param.name': 'Parameter',
  'schema.param.required': 'Required',
  'schema.param.enum': 'Only these values',
  'schema.param.values': 'Values, one per line',
  'schema.addParam': 'Add parameter',
  'schema.remove': 'Remove',
  'schema.addTool': 'Add tool',
  'schema.system': 'System prompt of built rows',
  'schema.instruct': 'Instruction before each utterance',
  'schema.toolSummary':
    '{name}: {params, plural, one {# parameter} other {# parameters}}, {templates, plural, one {# template} other {# templates}}',
  'build.title': 'Build rows from the schema',
  'build.perTool': 'Training rows per tool',
  'build.evalPerTool': 'Held-out rows per tool',
  'build.seed': 'Seed',
  'build.run': 'Build rows',
  'build.split': 'Held out by',
  'build.split.templates': 'templates',
  'build.split.values': 'values (the copying test)',
  'build.split.templatesHint': 'Held-out rows are utterances drawn after the training ones.',
  'build.split.valuesHint':
    'Held-out rows use templates training has seen with parameter values it has not: they measure whether the model copies values from the utterance.',
  'build.variants': 'Variants (%)',
  'build.variantsHint':
    'Variants rewrite the words around the values (fillers, politeness, particles, reordering, misheard speech, 两/二/2) and are marked; at 0% they only fill up a tool whose templates give too few distinct utterances.',
  'build.done':
    'Built {train, plural, one {# training row} other {# training rows}} and {eval, plural, one {# held-out row} other {# held-out rows}}; they replaced the datasets.',
  'eval.free': 'Free decoding',
  'eval.constrained': 'Constrained to the schema',
  'eval.bothNote':
    'Free decoding is what the seed measured; constrained decoding can only write valid calls of the schema.',
  'eval.exactBoth': 'Exact (free / constrained)',
  'eval.moreRows': '+ rows',
  'eval.moreRowsTitle':
    'Add {count, plural, one {# more training row} other {# more training rows}} of {tool} from its templates',
  'eval.moreRowsCount': 'Rows per click',
  'eval.correct': 'Correct',
  'eval.accept': 'Accept',
  'eval.acceptTitle': "The generated answer is right: add it as this input's training label",
  'eval.addCorrected': 'Add to training',
  'eval.added': 'added',
  'eval.sibling': 'new row added (same template, other values)',
  'eval.movedOut': 'moved to the training rows',
  'eval.shrank':
    '{count, plural, one {# row was} other {# rows were}} moved from the evaluation set to the training rows (no template gave a new row with other values): the set shrank, so scores before and after are not comparable.',
  'eval.correctLabel': 'Corrected answer for input {index}',
  'eval.continue': 'Continue training',
  'eval.continueHelp':
    'Trains the current adapter further on the training rows as they are now ({rows, plural, one {# row} other {# rows}}), instead of starting over.',
  'eval.showing': 'Wrong answers of',
  'runs.title': 'Runs',
  'runs.lead':
    'Every training run is kept in this browser with its settings, loss curve, evaluations and adapter. Pick two to compare.',
  'runs.none': 'No runs yet: train once and it appears here.',
  'runs.col.name': 'Run',
  'runs.col.when': 'Started',
  'runs.col.rows': 'Rows',
  'runs.col.steps': 'Steps',
  'runs.col.loss': 'Final loss',
  'runs.col.free': 'Exact, free',
  'runs.col.constrained': 'Exact, constrained',
  'runs.col.from': 'Continued from',
  'runs.current': 'in use',
  'runs.control': 'control',
  'train.controlRows':
    'The pending control run no longer has its rows (the training data, max length or system prompt changed): it was dropped, and Start now makes a plain run.',
  'train.controlSteps':
    'The pending control run would no longer take the steps of the run it controls (batch size or accumulation changed): it was dropped, and Start now makes a plain run.',
  'runs.controlHelp':
    'The control of the error loop: the same extra steps from the same adapter, on the rows it was trained on, without the added rows.',
  'eval.control.option': 'with a control run',
  'eval.control.help':
    'Also continues the adapter in use for the same number of steps on the rows it was trained on, without the added rows, and compares both on the evaluation rows: the gain of the added rows, not of more training.',
  'eval.control.treatment': 'Continuing with the added rows: step {step} of {total}',
  'eval.control.running': 'Control run, without the added rows: step {step} of {total}',
  'eval.control.noRun': 'A control needs a kept run in use: load one under Runs first.',
  'eval.control.nothingAdded':
    'No rows were added since the adapter in use was trained: a control would be the same run.',
  'eval.control.rowsChanged':
    'The training examples are not those of the adapter in use plus added rows (the data, the max length or the system prompt changed since it was trained), so no control can be made.',
  'runs.name': 'run {n}',
  'runs.select': 'Compare {name}',
  'runs.load': 'Load',
  'runs.export': 'Export',
  'runs.delete': 'Delete',
  'runs.compare': '{a} and {b}',
  'runs.compareHint': 'Select two runs to overlay their loss curves and compare their evaluations per intent.',
  'runs.noEval': '{name} has no evaluation yet: load it and evaluate.',
  'runs.differentSets':
    'These runs were evaluated on different evaluation sets (rows were moved out of it in between): their scores are not comparable. Load each and evaluate it on the current set.',
  'runs.delta': 'Change in exact match (points)',
  'runs.failed': 'Runs: {message}',
  'runs.unsaved':
    'This run is kept in this page only: the browser would not store it ({message}). Export its adapter, or free space and train again, before closing the page.',
  'chat.constrained': 'Answers follow the tool schema',
  ...enApp,
} as const;

export type MessageKey = keyof typeof en;
export type Dictionary = Record<MessageKey, string>;

const zh: Dictionary = {
  'app.title': 'Webtune',
  'app.tagline': '在本页面内，用你自己的 GPU 或 CPU 对 Qwen2.5 和 Qwen3 做 LoRA 微调',
  'app.language': '语言',
  'app.steps': '步骤',
  'app.offlineReady': '可离线使用',
  'app.workerFailed': '训练线程无法启动：{message}',

  'screen.model': '模型',
  'screen.data': '数据',
  'screen.train': '训练',
  'screen.eval': '评估',
  'screen.chat': '试用',
  'screen.export': '导出',

  'status.ready': '就绪',
  'status.loading': '加载中',
  'status.none': '未加载',
  'status.error': '出错',

  'engine.title': '计算引擎',
  'engine.auto': '自动',
  'engine.webgpu': 'WebGPU',
  'engine.cpu': 'CPU',
  'engine.probing': '正在查找 GPU…',
  'engine.gpuFound': '可用 WebGPU：{adapter}',
  'engine.gpuMissing': '此处无法使用 WebGPU；训练将在 CPU 上运行，速度较慢。',
  'engine.using': '运行于 {device}',
  'engine.help':
    '“自动”通过 WebGPU 使用硬件 GPU，从不使用软件渲染器；对小模型会在两个引擎上各计时一步，保留较快的一个。需要对比或 GPU 异常时可强制使用 CPU。',
  'engine.reloadNeeded': '重新加载模型以切换引擎。',
  'quant.title': '基座权重',
  'quant.auto': '自动',
  'quant.none': '16 位',
  'quant.nf4': '4 位基座（QLoRA）',
  'quant.help':
    'QLoRA 把基座的七个投影保存为 4 位 NF4（与 bitsandbytes 相同），训练的仍是同样的 16/32 位适配器：内存约减半，数值略有不同。“自动”只在 16 位规划放不下此引擎时才选它。',
  'quant.reloadNeeded': '重新加载模型以切换基座权重。',
  'quant.loaded16': '基座权重：16 位',
  'quant.loadedNf4': '基座权重：4 位 NF4（QLoRA）；{cached} 个投影从缓存中直接读取已量化的版本',

  'model.title': '基础模型',
  'model.lead': '选择要微调的模型。内置微型模型可立即使用；模型库中的模型只需下载一次，之后缓存在本浏览器中。',
  'model.source': '来源',
  'model.source.builtin': '内置微型模型',
  'model.source.hf': 'Hugging Face',
  'model.source.modelscope': '魔搭 ModelScope',
  'model.source.url': '网址',
  'model.source.local': '本地文件夹',
  'model.builtinHelp':
    '随页面提供的随机初始化 Qwen2 结构微型模型：几秒即可训练，用于演示完整流程。它的回答只能达到几分钟训练所能达到的水平。',
  'model.repo': '仓库',
  'model.revision': '版本',
  'model.baseUrl': '基础网址（包含 config.json 的目录）',
  'model.folder': '模型文件夹',
  'model.folderHelp':
    '选择或拖入 huggingface-cli 或 modelscope download 下载的文件夹：config.json、tokenizer.json、model.safetensors。',
  'model.dropHere': '将模型文件夹拖到这里',
  'model.filesPicked': '已从 {name} 选择 {count} 个文件',
  'model.load': '加载模型',
  'model.reload': '重新加载',
  'model.loading': '加载中…',
  'model.cancel': '取消下载',
  'model.phase.check': '检查文件',
  'model.phase.download': '下载中',
  'model.phase.cache': '从缓存读取',
  'model.phase.verify': '校验中',
  'model.phase.load': '载入引擎',
  'model.phase.done': '完成',
  'model.progress': '{file}：{done} / {total}',
  'model.speed': '{speed}/秒，剩余 {eta}',
  'model.loaded': '已加载 {name}',
  'model.params': '{count} 个参数，其中 {lora} 个可训练（LoRA）',
  'model.shape': '{layers} 层，隐藏维度 {hidden}，{heads} 个注意力头，词表 {vocab}',
  'model.fromCache': '来自缓存',
  'model.cached': '已缓存的模型',
  'model.cachedNone': '尚无缓存。',
  'model.delete': '删除',
  'model.failed': '无法加载模型：{message}',
  'model.needRepo': '请输入仓库名，例如 {example}。',
  'model.needUrl': '请输入基础网址。',
  'model.needFolder': '请先选择模型文件夹。',
  'model.tooBig': '此模型在这里放不下：{message}。未下载任何内容；请选择更小的模型、更短的最大长度或更小的批大小。',
  'catalog.title': '批大小 {batch} × 最大长度 {seq}、{engine} 引擎下的模型：',
  'catalog.model': '模型',
  'catalog.download': '下载',
  'catalog.memory16': '内存（16 位权重）',
  'catalog.memory4': '内存（4 位基座，QLoRA）',
  'catalog.fits': '放得下',
  'catalog.noMemory': '需要 {need}，引擎最多 {limit}',
  'catalog.noBinding': '{tensor} 需要 {need} 的单个缓冲区，GPU 最多允许 {limit}',
  'catalog.thinkingOff': '混合思考模型：训练和提问时都关闭思考',
  'catalog.preset': '预设：批大小 {batch} × 梯度累积 {accum}',
  'catalog.gpuNote': 'WebGPU 不报告可用显存：“放得下”指不超过适配器的缓冲区限制；总量还需 GPU 有足够空闲显存。',
  'catalog.cpuNote': 'CPU 引擎把权重、适配器和激活都放在一个 4 GB 的 WebAssembly 内存中。',

  'adapter.title': '适配器（可选）',
  'adapter.help':
    '应用一个 PEFT 适配器文件夹（adapter_config.json + adapter_model.safetensors），例如训练任务包脚本产出的适配器，以便评估、试用或导出。',
  'adapter.pick': '适配器文件夹',
  'adapter.drop': '将适配器文件夹拖到这里',
  'adapter.applied': '已应用适配器 {name}：r {r}，alpha {alpha}，{targets} 类投影层',
  'adapter.failed': '无法应用适配器：{message}',
  'adapter.needModel': '请先加载基础模型。',

  'memory.title': '内存规划',
  'memory.weights': '基础权重（词嵌入和归一化保持 16 位）',
  'memory.lora': 'LoRA（权重、梯度、Adam 状态）',
  'memory.activations': '激活值（批大小 {batch} × {seq} 个词元）',
  'memory.residuals': '保存的各层输入',
  'memory.total': '合计',
  'memory.checkpointingOn': '已开启梯度检查点：反向传播时逐层重算，同一时间只保留一层的激活值。',
  'memory.checkpointingOff': '所有层的激活值都能放下，因此保留它们，反向传播无需重算。',
  'memory.checkpointingPartial':
    '不超过 {tokens} 个词元（批大小 × 填充后长度；最多 {budget}）的微批次保留所有层的激活值；更长的微批次在反向传播时逐层重算。',
  'memory.kernels': 'GPU 内核：{path}',
  'memory.allocated': '加载模型时实际分配：{size}（规划 {planned}）。',
  'memory.gpuUnknown':
    '浏览器不会报告可用的 GPU 显存。如果显存不足，Webtune 会提示，并给出可以容纳的批大小和最大长度。',
  'memory.noModel': '加载模型后即可查看这些设置所需的内存。',
  'memory.storage': '浏览器存储：已用 {used} / 共 {quota}',

  'data.title': '数据集',
  'data.import': '导入',
  'data.help':
    '支持 {"instruct", "input", "output"} 行组成的 JSON 数组或 JSONL（会议助手格式）、Alpaca、对话 "messages" 或 ShareGPT "conversations"；也支持 CSV/TSV 表格（随后选择各列的含义）。格式自动识别。',
  'data.pick': '选择文件',
  'data.drop': '将 .json 或 .jsonl 文件拖到这里',
  'data.paste': '粘贴数据',
  'data.pasteLabel': '数据集文本',
  'data.importPasted': '导入粘贴的文本',
  'data.sample': '使用会议示例数据',
  'data.loadedFrom': '{name}：{rows} 行（{format}）',
  'data.none': '尚无数据集。',
  'data.issues': '{name} 中有 {count} 个问题',
  'data.issuesKept': '有问题的行已跳过；其余 {rows} 行已导入。',
  'data.failedKept': '{name} 未导入任何内容；保留之前的数据集。',
  'data.failed': '{name} 未导入任何内容。',
  'data.issueLine': '第 {line} 行',
  'data.issueRow': '第 {index} 条',
  'data.issueField': '字段“{field}”',
  'data.preview': '预览',
  'data.col.index': '#',
  'data.col.user': '输入',
  'data.col.answer': '期望输出',
  'data.col.tokens': '词元数',
  'data.moreRows': '… 另有 {count} 行',
  'data.split': '训练 / 评估划分',
  'data.evalFraction': '留作评估的比例',
  'data.evalFile': '或导入单独的评估文件',
  'data.evalFromFile': '评估数据来自 {name}（{rows} 行）。',
  'data.useSplit': '改用划分',
  'data.splitCounts': '训练 {train} 行，评估 {eval} 行',
  'data.histogram': '词元长度',
  'data.histogramLabel': '每条样本词元长度的直方图；红线为最大长度 {max}',
  'data.truncated': '有 {count} 条样本超过最大长度（{max}），将被截断。',
  'data.noneTruncated': '所有样本都在最大长度（{max}）以内。',
  'data.meanTokens': '平均 {mean} 个词元，最长 {max}',
  'data.importing': '正在导入 {name}：已读取 {rows} 行（{percent}）…',
  'data.encoding': '该文件不是 UTF-8 编码，已按 {encoding} 读取。',
  'data.normalized':
    '有 {count} 个 JSON 答案已改写为紧凑格式（无空格、字符不转义）：训练、生成与约束解码使用同一种格式。',
  'data.duplicates': '有 {count} 行与前面某行逐字相同，已略去，以免同一行既用于训练又用于评估：',
  'data.sampled': '词元数来自 {total} 行中均匀抽取的 {rows} 行。',
  'data.truncatedShare': '约 {share} 的样本超过最大长度（{max}），将被截断。',
  'data.noAnswer':
    '有 {count} 条样本的提示已占满最大长度（{max}），不剩任何答案词元，将被跳过。提高最大长度才能用它们训练。',
  'data.noAnswerShare':
    '约 {share} 的样本的提示已占满最大长度（{max}），不剩任何答案词元，将被跳过。提高最大长度才能用它们训练。',
  'data.needModel': '请先加载模型：需要用它的分词器统计词元。',
  'data.system': '系统提示词',
  'data.systemHelp': '放在每条样本之前，与 PEFT 训练一致：模型学习在其后作答。',
  'data.allowControlText': '允许数据中写出的控制标记（<|im_end|>、<think> 等），作为普通文本',

  'train.title': '训练',
  'train.hyper': '超参数',
  'train.r': 'LoRA 秩 r',
  'train.r.help': '低秩更新的大小；秩越大，容量和内存越多。',
  'train.alpha': 'LoRA alpha',
  'train.alpha.help': '更新量按 alpha / r 缩放。',
  'train.dropout': 'LoRA dropout',
  'train.dropout.help': '训练时随机丢弃 LoRA 支路的输入，防止过拟合。',
  'train.targets': '目标模块',
  'train.targets.help': '加 LoRA 适配器的投影层；PEFT 配方使用全部七个。',
  'train.batch': '批大小',
  'train.batch.help': '每个微批的样本数；受内存限制。',
  'train.accum': '梯度累积',
  'train.accum.help': '每次优化步累加的微批数；等效批大小 = 批大小 × 累积数。',
  'train.lr': '学习率',
  'train.lr.help': '调度峰值处的 AdamW 步长。',
  'train.epochs': '轮数',
  'train.epochs.help': '遍历训练数据的次数。',
  'train.maxLength': '最大长度',
  'train.maxLength.help': '每条样本（提示 + 回答）的词元数；更长的会被截断。',
  'train.schedule': '学习率调度',
  'train.schedule.help': '线性调度在训练过程中降到零，与 Hugging Face Trainer 相同。',
  'train.schedule.linear': '线性',
  'train.schedule.cosine': '余弦',
  'train.schedule.constant': '恒定',
  'train.warmup': '预热步数',
  'train.warmup.help': '学习率从零升到峰值所用的步数。',
  'train.weightDecay': '权重衰减',
  'train.weightDecay.help': '对 LoRA 权重的 AdamW 解耦衰减。',
  'train.maxGradNorm': '最大梯度范数',
  'train.maxGradNorm.help': '梯度全局范数超过该值时按比例缩小。',
  'train.seed': '随机种子',
  'train.seed.help': '固定 LoRA 初始化、数据顺序和 dropout 掩码。',
  'train.evalEvery': '评估间隔',
  'train.evalEvery.help': '每 N 个优化步计算一次评估损失（0：仅在结束时）。',
  'train.reset': '恢复默认值',
  'train.start': '开始训练',
  'train.pause': '暂停',
  'train.resume': '继续',
  'train.stop': '停止',
  'train.restart': '从头重新训练',
  'train.needModel': '请先加载模型。',
  'train.needData': '请先导入数据集。',
  'train.state.idle': '未开始',
  'train.state.starting': '正在启动…',
  'train.state.running': '训练中',
  'train.state.paused': '已暂停',
  'train.state.stopped': '已停止',
  'train.state.done': '已完成',
  'train.state.error': '失败',
  'train.step': '第 {step} / {total} 步',
  'train.epoch': '第 {epoch} / {total} 轮',
  'train.loss': '损失',
  'train.evalLoss': '评估损失',
  'train.trainLoss': '训练损失',
  'train.tokensPerSec': '每秒词元数',
  'train.eta': '剩余时间',
  'train.lrNow': '学习率',
  'train.gradNorm': '梯度范数',
  'train.resumedFrom': '已从第 {step} 步的检查点继续。',
  'train.checkpointFound':
    '发现同一模型、数据和设置的已保存训练：第 {step} / {total} 步（{when}），{rows} 条训练样本，学习率 {lr}，{epochs} 轮。点击“继续”即可接着训练。',
  'train.checkpointSaved': '已在第 {step} 步保存检查点。',
  'train.checkpointNoSpace':
    '第 {step} 步的检查点未能保存：需要 {mib} MiB，而浏览器存储已满。训练继续进行；请释放空间（删除缓存的模型或旧的运行记录），或立即导出适配器。',
  'train.exportNow': '立即导出适配器',
  'train.failed': '训练失败：{message}',
  'train.noLabels': '没有可训练的样本：{message}。请提高最大长度。',
  'train.controlText':
    '有些行写出了对话控制标记，会被当作该标记本身（新的对话轮次或回答结束）：{message}。请从这些行中删除，或在“数据”页勾选“允许控制标记”，将其作为普通文本训练。',
  'train.skipped': '有 {count} 条训练样本被略去：其提示已占满最大长度（{max}），不剩可学习的答案词元。',
  'train.chartLabel': '每个优化步的损失：训练损失 {train}，评估损失 {eval}',
  'train.chartEmpty': '开始训练后，这里会显示损失曲线。',
  'train.stepsPlanned': '共 {steps} 个优化步：{rows} 行 × {epochs} 轮 ÷（批大小 {batch} × 累积 {accum}）',

  'eval.title': '评估集上的准确率',
  'eval.run': '开始评估',
  'eval.running': '正在评估 {done} / {total}…',
  'eval.needModel': '请先加载模型并导入数据。',
  'eval.noRows': '没有评估数据；请在“数据”页留出一部分。',
  'eval.exact': '完全匹配',
  'eval.intent': '意图准确率',
  'eval.slotF1': '槽位 F1',
  'eval.noSlots': '没有预期或预测的参数，无可评分',
  'eval.slotPrecision': '槽位精确率',
  'eval.slotRecall': '槽位召回率',
  'eval.invalidJson': '无效 JSON',
  'eval.loss': '评估损失',
  'eval.perIntent': '按意图',
  'eval.col.intent': '意图',
  'eval.col.count': '行数',
  'eval.wrong': '错误回答（{count}）',
  'eval.noneWrong': '全部回答正确。',
  'eval.col.input': '输入',
  'eval.col.expected': '期望',
  'eval.col.got': '生成',
  'eval.failed': '评估失败：{message}',
  'eval.skipped': '有 {count} 行被略去：其提示加答案超出模型的 {positions} 个位置：{rows}。',
  'eval.adapterNote': '用当前适配器、贪心解码和训练时的提示模板进行评估。',

  'chat.title': '试用',
  'chat.prompt': '消息',
  'chat.placeholder': '例如：创建汇报会会议',
  'chat.send': '同时发送给两个模型',
  'chat.stop': '停止',
  'chat.base': '基础模型',
  'chat.tuned': '微调后的模型（带适配器）',
  'chat.waiting': '等待中…',
  'chat.empty': '尚未生成内容。',
  'chat.emptyAnswer': '（模型立即结束了回答：回复为空。）',
  'chat.maxTokens': '最多生成词元数',
  'chat.temperature': '温度（0 = 贪心）',
  'chat.failed': '生成失败：{message}',
  'chat.tokens': '{count} 个词元',
  'chat.needModel': '请先加载模型。',

  'export.title': '导出',
  'export.help': '下载结果以便在其他地方使用。不会上传任何内容。',
  'export.peft': 'PEFT 适配器',
  'export.peft.help': 'adapter_config.json + adapter_model.safetensors：可用于 PeftModel.from_pretrained、vLLM。',
  'export.merged': '合并后的模型',
  'export.merged.help': '完整的 Hugging Face 模型文件夹，已并入 W + BA（BF16）。',
  'export.gguf': 'GGUF 适配器',
  'export.gguf.help': '供 llama.cpp 使用的 LoRA 适配器（--lora）。',
  'export.job': '训练任务包',
  'export.job.help': '包含数据集和相同设置的 PyTorch + PEFT 脚本的 zip。',
  'export.download': '下载',
  'export.working': '准备中…',
  'export.done': '已下载 {files}',
  'export.failed': '导出失败：{message}',
  'export.needModel': '请先加载模型。',
  'export.notTrained': '适配器尚未训练：这些文件包含的是初始权重。',

  'error.where.model': '模型',
  'error.where.data': '数据',
  'error.where.train': '训练',
  'error.where.eval': '评估',
  'error.where.chat': '试用',
  'error.where.export': '导出',
  'error.dismiss': '关闭',

  'unit.bytes': '{value} B',
  'unit.kb': '{value} KB',
  'unit.mb': '{value} MB',
  'unit.gb': '{value} GB',

  'schema.title': '工具定义',
  'schema.lead':
    '描述工具：参数、可填入的取值，以及带 {param} 占位符的话术模板。据此生成数据行，解码也可以限定在它之内，使每个回答都是合法的调用。',
  'schema.sample': '使用会议示例工具定义',
  'schema.import': '导入工具定义',
  'schema.drop': '将工具定义 .json 文件拖到这里',
  'schema.export': '导出工具定义',
  'schema.apply': '应用修改',
  'schema.inUse': '使用中：{name}，{tools} 个工具',
  'schema.dirty': '已修改但未应用：生成数据与约束解码仍使用已应用的定义。',
  'schema.none': '尚无工具定义。可导入文件，或从示例开始。',
  'schema.problems': '{name} 中有 {count} 个问题；未做任何更改',
  'schema.toolName': '名称',
  'schema.description': '描述',
  'schema.templates': '模板，每行一个',
  'schema.params': '参数',
  'schema.param.name': '参数名',
  'schema.param.required': '必填',
  'schema.param.enum': '仅限这些值',
  'schema.param.values': '取值，每行一个',
  'schema.addParam': '添加参数',
  'schema.remove': '删除',
  'schema.addTool': '添加工具',
  'schema.system': '生成数据的系统提示词',
  'schema.instruct': '每句话前的指令',
  'schema.toolSummary': '{name}：{params} 个参数，{templates} 个模板',
  'build.title': '根据工具定义生成数据',
  'build.perTool': '每个工具的训练行数',
  'build.evalPerTool': '每个工具的评估行数',
  'build.seed': '随机种子',
  'build.run': '生成数据',
  'build.split': '评估行的划分方式',
  'build.split.templates': '按模板',
  'build.split.values': '按参数值（复制测试）',
  'build.split.templatesHint': '评估行是在训练行之后抽取的语句。',
  'build.split.valuesHint': '评估行使用训练中见过的模板和训练中没见过的参数值：衡量模型能否从语句中复制参数值。',
  'build.variants': '变体（%）',
  'build.variantsHint':
    '变体改写参数值周围的词语（语气词、礼貌用语、助词、语序、语音识别错误、两/二/2），并加以标记；为 0% 时，只在某个工具的模板不足以给出足够多不同语句时用来补足。',
  'build.done': '已生成 {train} 行训练数据和 {eval} 行评估数据，并替换了原数据集。',
  'eval.free': '自由解码',
  'eval.constrained': '按工具定义约束',
  'eval.bothNote': '自由解码与原始脚本的指标一致；约束解码只能写出符合工具定义的调用。',
  'eval.exactBoth': '完全匹配（自由 / 约束）',
  'eval.moreRows': '+ 数据',
  'eval.moreRowsTitle': '从模板为 {tool} 再添加 {count} 行训练数据',
  'eval.moreRowsCount': '每次添加行数',
  'eval.correct': '更正',
  'eval.accept': '采纳',
  'eval.acceptTitle': '生成的回答是对的：把它作为该输入的训练标签加入',
  'eval.addCorrected': '加入训练数据',
  'eval.added': '已加入',
  'eval.sibling': '已加入新行（同一模板，换了取值）',
  'eval.movedOut': '已移入训练数据',
  'eval.shrank': '有 {count} 行从评估集移入了训练数据（没有模板能换值生成新行）：评估集变小了，前后分数不可比较。',
  'eval.correctLabel': '第 {index} 条输入的更正答案',
  'eval.continue': '继续训练',
  'eval.continueHelp': '在当前适配器上，用现在的训练数据（{rows} 行）继续训练，而不是从头开始。',
  'eval.showing': '错误回答来自',
  'runs.title': '训练记录',
  'runs.lead': '每次训练都保存在本浏览器中，包括设置、损失曲线、评估结果和适配器。选择两次进行对比。',
  'runs.none': '尚无训练记录：训练一次后会显示在这里。',
  'runs.col.name': '记录',
  'runs.col.when': '开始时间',
  'runs.col.rows': '行数',
  'runs.col.steps': '步数',
  'runs.col.loss': '最终损失',
  'runs.col.free': '完全匹配（自由）',
  'runs.col.constrained': '完全匹配（约束）',
  'runs.col.from': '继续自',
  'runs.current': '使用中',
  'runs.control': '对照',
  'train.controlRows':
    '待续的对照训练已找不到它的数据（训练数据、最大长度或系统提示词改过了）：已放弃，现在“开始”是一次普通训练。',
  'train.controlSteps':
    '待续的对照训练的步数已和它对照的训练不同（批大小或梯度累积改过了）：已放弃，现在“开始”是一次普通训练。',
  'runs.controlHelp': '错误闭环的对照：从同一个适配器出发、同样多的额外步数，只用它训练过的数据，不含新增的行。',
  'eval.control.option': '同时训练对照组',
  'eval.control.help':
    '同时在当前适配器上用它训练过的数据（不含新增的行）继续训练同样的步数，并在评估数据上比较两者：看到的是新增数据带来的提升，而不是多训练带来的。',
  'eval.control.treatment': '正在用新增的数据继续训练：第 {step} / {total} 步',
  'eval.control.running': '对照组训练（不含新增的行）：第 {step} / {total} 步',
  'eval.control.noRun': '对照需要一个正在使用的已保存训练：请先在“训练记录”中加载一个。',
  'eval.control.nothingAdded': '当前适配器训练之后没有新增数据：对照组会和它完全相同。',
  'eval.control.rowsChanged':
    '训练样本不是当前适配器的数据加上新增的行（之后改过数据、最大长度或系统提示词），无法做对照。',
  'runs.name': '第 {n} 次训练',
  'runs.select': '对比 {name}',
  'runs.load': '载入',
  'runs.export': '导出',
  'runs.delete': '删除',
  'runs.compare': '{a} 与 {b}',
  'runs.compareHint': '选择两次训练，叠加损失曲线并按意图对比评估结果。',
  'runs.noEval': '{name} 尚无评估：载入后进行评估。',
  'runs.differentSets':
    '这两次训练的评估集不同（期间有行移出了评估集），分数不可比较。请分别载入并在当前评估集上重新评估。',
  'runs.delta': '完全匹配变化（百分点）',
  'runs.failed': '训练记录：{message}',
  'runs.unsaved':
    '此次运行只保存在本页面中：浏览器拒绝存储（{message}）。关闭页面前请导出适配器，或释放空间后重新训练。',
  'chat.constrained': '回答遵循工具定义',
  ...zhApp,
};

export const messages: Record<Lang, Dictionary> = { en, zh };

export type Params = Record<string, string | number>;

/** `{n, plural, one {# row} other {# rows}}`: the form Intl.PluralRules picks for n, # replaced by n as given. */
const PLURAL = /\{(\w+), plural,((?:\s*=?\w+\s*\{(?:[^{}]|\{\w+\})*\})+)\s*\}/g;
/** One form of a plural block: its selector (one, other, =0) and its text, which may hold {placeholders}. */
const FORM = /(=?\w+)\s*\{((?:[^{}]|\{\w+\})*)\}/g;

function plurals(lang: Lang, text: string, params: Params): string {
  return text.replace(PLURAL, (whole, name: string, forms: string) => {
    if (!(name in params)) return whole;
    const v = params[name];
    // Counts often arrive formatted ("1,000"): the digits decide the form.
    const n = typeof v === 'number' ? v : Number(String(v).replace(/[^\d.-]/g, ''));
    const byForm = new Map([...forms.matchAll(FORM)].map((m) => [m[1], m[2]]));
    const form =
      byForm.get(`=${n}`) ?? byForm.get(new Intl.PluralRules(locale(lang)).select(n)) ?? byForm.get('other') ?? '';
    return form.replace(/#/g, String(v));
  });
}

/** A placeholder the caller forgot stays visible as {name}, which a test and a reader both notice. */
export function translate(lang: Lang, key: MessageKey, params?: Params): string {
  const text = messages[lang][key];
  if (!params) return text;
  return plurals(lang, text, params).replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

export type Translate = (key: MessageKey, params?: Params) => string;

export function translator(lang: Lang): Translate {
  return (key, params) => translate(lang, key, params);
}

/** The parameters a message uses, plain ({name}) or plural ({name, plural, ...}). */
export function placeholders(text: string): string[] {
  const names: string[] = [];
  const flat = text.replace(PLURAL, (_, name: string, forms: string) => {
    names.push(name);
    return [...forms.matchAll(FORM)].map((m) => m[2]).join(' ');
  });
  for (const m of flat.matchAll(/\{(\w+)\}/g)) names.push(m[1]);
  return [...new Set(names)].sort();
}

const STORAGE_KEY = 'webtune.lang';

/** The stored choice wins; otherwise the browser's first language decides (zh-* -> zh, else en). */
export function detectLang(stored: string | null | undefined, browserLanguages: readonly string[]): Lang {
  if (stored === 'en' || stored === 'zh') return stored;
  for (const l of browserLanguages) {
    const base = l.toLowerCase().split('-')[0];
    if (base === 'zh') return 'zh';
    if (base === 'en') return 'en';
  }
  return 'en';
}

export function loadLang(): Lang {
  let stored: string | null = null;
  try {
    stored = localStorage.getItem(STORAGE_KEY);
  } catch {
    // Storage can be blocked (privacy mode); the browser language still works.
  }
  const langs = navigator.languages?.length ? navigator.languages : [navigator.language];
  return detectLang(stored, langs);
}

export function saveLang(lang: Lang): void {
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // Not persisted; the choice still holds for this visit.
  }
}

export function locale(lang: Lang): string {
  return lang === 'zh' ? 'zh-CN' : 'en-US';
}

export function formatNumber(lang: Lang, n: number, digits = 0): string {
  return new Intl.NumberFormat(locale(lang), { maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(n);
}

/** Losses need significant digits, not fixed decimals: 10.4 and 0.0123 both stay readable. */
export function formatLoss(lang: Lang, n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return new Intl.NumberFormat(locale(lang), { maximumSignificantDigits: 4 }).format(n);
}

/** Learning rates: 0.0001 reads better as 1E-4. */
export function formatScientific(lang: Lang, n: number): string {
  return new Intl.NumberFormat(locale(lang), { notation: 'scientific', maximumSignificantDigits: 3 }).format(n);
}

export function formatPercent(lang: Lang, fraction: number): string {
  return new Intl.NumberFormat(locale(lang), { style: 'percent', maximumFractionDigits: 1 }).format(fraction);
}

/** Binary-free decimal units, as disk and download tools show them. */
export function formatBytes(lang: Lang, bytes: number): string {
  const units: [MessageKey, number][] = [
    ['unit.gb', 1e9],
    ['unit.mb', 1e6],
    ['unit.kb', 1e3],
  ];
  for (const [key, size] of units) {
    if (bytes >= size)
      return translate(lang, key, { value: formatNumber(lang, bytes / size, bytes / size < 10 ? 1 : 0) });
  }
  return translate(lang, 'unit.bytes', { value: formatNumber(lang, bytes) });
}

/** A duration such as "2 min 5 s" / "2分钟5秒", built from Intl unit formatting. */
export function formatDuration(lang: Lang, seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const unit = (value: number, u: 'hour' | 'minute' | 'second') =>
    new Intl.NumberFormat(locale(lang), { style: 'unit', unit: u, unitDisplay: 'short' }).format(value);
  const parts: string[] = [];
  if (h) parts.push(unit(h, 'hour'));
  if (m) parts.push(unit(m, 'minute'));
  if (sec || parts.length === 0) parts.push(unit(sec, 'second'));
  return parts.slice(0, 2).join(lang === 'zh' ? '' : ' ');
}

/** "3 minutes ago" from a timestamp, for saved checkpoints. */
export function formatRelativeTime(lang: Lang, thenMs: number, nowMs: number): string {
  const rtf = new Intl.RelativeTimeFormat(locale(lang), { numeric: 'auto' });
  const diff = (thenMs - nowMs) / 1000;
  const abs = Math.abs(diff);
  if (abs < 60) return rtf.format(Math.round(diff), 'second');
  if (abs < 3600) return rtf.format(Math.round(diff / 60), 'minute');
  if (abs < 86400) return rtf.format(Math.round(diff / 3600), 'hour');
  return rtf.format(Math.round(diff / 86400), 'day');
}

export function formatDateTime(lang: Lang, ms: number): string {
  return new Intl.DateTimeFormat(locale(lang), { dateStyle: 'medium', timeStyle: 'short' }).format(ms);
}
