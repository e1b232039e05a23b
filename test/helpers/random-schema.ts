// Seeded random tool schemas for property tests: Chinese and ASCII values, enums, optional
// parameters, and a first tool without parameters. Raw JSON, as a user would write it.
import { SeededRng } from '../../src/core/rng.ts';

const HAN =
  '的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严';

/** A seeded schema: Chinese and ASCII values, enums, optional parameters, tools without any. */
export function randomSchema(seed: number): any {
  const rng = new SeededRng(seed);
  const word = (n: number, ascii: boolean) =>
    Array.from({ length: n }, () => (ascii ? String.fromCharCode(97 + rng.int(26)) : HAN[rng.int(HAN.length)])).join(
      '',
    );
  const tools = [];
  const nTools = 2 + rng.int(4);
  for (let t = 0; t < nTools; t++) {
    const nParams = t === 0 ? 0 : rng.int(4);
    const properties: Record<string, any> = {};
    const required: string[] = [];
    for (let p = 0; p < nParams; p++) {
      const name = `p${p}_${word(3, true)}`;
      const ascii = rng.float() < 0.3;
      const values = [...new Set(Array.from({ length: 3 + rng.int(6) }, () => word(1 + rng.int(4), ascii)))];
      properties[name] = rng.float() < 0.3 ? { type: 'string', enum: values } : { type: 'string', examples: values };
      if (p === 0 || rng.float() < 0.5) required.push(name);
    }
    const names = Object.keys(properties);
    const templates = new Set<string>();
    const nTemplates = nParams ? 3 + rng.int(4) : 12 + rng.int(6);
    while (templates.size < nTemplates) {
      const used = names.filter((n) => required.includes(n) || rng.float() < 0.5);
      templates.add(word(1 + rng.int(3), false) + used.map((n) => `{${n}}${word(1 + rng.int(2), false)}`).join(''));
    }
    tools.push({
      type: 'function',
      function: {
        name: `TOOL_${t}_${word(4, true).toUpperCase()}`,
        parameters: { type: 'object', properties, required },
      },
      templates: [...templates],
    });
  }
  return { system: `系统${seed}`, instruct: seed % 2 ? '指令：' : undefined, tools };
}
