// ChatTemplate: which template a model folder provides (as transformers picks it), the
// variables it is rendered with, and the render limits.
#include "chat/chat_template.h"

#include "io/file_util.h"
#include "render_helpers.h"
#include "temp_path.h"

namespace fs = std::filesystem;
using lowbit::UserError;
using lowbit::chat::ChatTemplate;
using lowbit::chat::RenderLimits;
using lowbit::chat::testing::error_of;
using ojson = nlohmann::ordered_json;

namespace {

fs::path folder(const std::string& name, const std::string& tokenizer_config) {
  fs::path d = lowbit::fixtures::temp_path("chat-" + name);
  fs::create_directories(d);
  if (!tokenizer_config.empty()) lowbit::io::write_text_file(d / "tokenizer_config.json", tokenizer_config);
  return d;
}

const ojson kHi = ojson::parse(R"([{"role": "user", "content": "hi"}])");

}  // namespace

TEST(ChatTemplate, FromTokenizerConfigString) {
  auto d = folder("string", R"({"chat_template": "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}",
                                "bos_token": "<s>", "eos_token": {"__type": "AddedToken", "content": "</s>"}})");
  auto t = ChatTemplate::from_model_dir(d);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->render(kHi, false), "<s><user>hi");
  EXPECT_EQ(t->render(kHi, true), "<s><user>hi<assistant>");
  EXPECT_EQ(t->bos_token(), "<s>");
}

TEST(ChatTemplate, ListFormUsesDefaultOrToolUse) {
  auto d = folder("list", R"({"chat_template": [{"name": "default", "template": "D"}, {"name": "tool_use", "template": "T"}]})");
  auto t = ChatTemplate::from_model_dir(d);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->render(kHi, false), "D");
  EXPECT_EQ(t->render(kHi, false, ojson::array()), "T");  // tools given: transformers picks tool_use
  auto none = folder("list-nodefault", R"({"chat_template": [{"name": "rag", "template": "R"}, {"name": "x", "template": "X"}]})");
  EXPECT_THROW(ChatTemplate::from_model_dir(none)->render(kHi, false), UserError);
}

TEST(ChatTemplate, JinjaFileWinsOverTokenizerConfig) {
  auto d = folder("file", R"({"chat_template": "from config", "eos_token": "</s>"})");
  lowbit::io::write_text_file(d / "chat_template.jinja", "from file {{ eos_token }}\n");
  auto t = ChatTemplate::from_model_dir(d);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->render(kHi, false), "from file </s>");  // and Jinja drops the file's last newline
}

TEST(ChatTemplate, NoTemplateIsNullopt) {
  EXPECT_FALSE(ChatTemplate::from_model_dir(folder("none", R"({"bos_token": "<s>"})")));
  EXPECT_FALSE(ChatTemplate::from_model_dir(folder("empty", "")));
}

TEST(ChatTemplate, SpecialTokensAsTransformersPassesThem) {
  auto d = folder("tokens", R"({"chat_template": "{{ bos_token }}|{{ eos_token }}|{{ pad_token }}|{{ image_token }}|{{ unk_token is defined }}|{{ add_bos_token }}",
                                "bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>", "pad_token": null,
                                "image_token": "<img>", "add_bos_token": true})");
  // pad_token null is absent; add_bos_token is a bool, not a token, so not passed either.
  EXPECT_EQ(ChatTemplate::from_model_dir(d)->render(kHi, false), "<s>|</s>||<img>|False|");
  // A legacy special_tokens_map.json overrides the config when it has no added_tokens_decoder.
  lowbit::io::write_text_file(d / "special_tokens_map.json", R"({"eos_token": {"content": "<|end|>"}})");
  EXPECT_EQ(ChatTemplate::from_model_dir(d)->render(kHi, false), "<s>|<|end|>||<img>|False|");
}

TEST(ChatTemplate, MessagesArePreparedAsApplyChatTemplateDoes) {
  ChatTemplate t("{% for m in messages %}{{ m | tojson }}{% endfor %}|{{ tools }}|{{ documents }}|{{ enable_thinking }}",
                 "t", {});
  // Null-valued keys dropped; reasoning aliased as "thinking" (first) and "reasoning_content".
  const ojson msgs = ojson::parse(R"([{"role": "assistant", "content": "a", "tool_calls": null, "reasoning": "r"}])");
  EXPECT_EQ(t.render(msgs, false, nullptr, ojson::parse(R"({"enable_thinking": false})")),
            R"({"thinking": "r", "role": "assistant", "content": "a", "reasoning": "r", "reasoning_content": "r"}|None|None|False)");
}

TEST(ChatTemplate, BadInputAndFailingTemplatesAreUserErrors) {
  ChatTemplate t("{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}ok",
                 "model/chat_template.jinja", {});
  try {
    t.render(ojson::parse(R"([{"role": "system", "content": "x"}])"), false);
    FAIL();
  } catch (const UserError& e) {
    EXPECT_STREQ(e.what(), "model/chat_template.jinja line 1: the template raised an error: System role not supported");
  }
  EXPECT_THROW(t.render(ojson::array(), false), UserError);               // empty conversation
  EXPECT_THROW(t.render(ojson::parse(R"(["hi"])"), false), UserError);    // not message objects
  EXPECT_THROW(t.render(ojson::parse(R"({"role": "user"})"), false), UserError);
  ChatTemplate broken("{% for %}", "b", {});
  EXPECT_THROW(broken.render(kHi, false), UserError);  // a syntax error surfaces on first use
}

TEST(ChatTemplate, RenderLimitsStopRunawayTemplates) {
  RenderLimits small;
  small.max_steps = 10000;
  EXPECT_EQ(error_of("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "{}", small),
            "t line 1: the template ran for more than 10000 steps");
  EXPECT_EQ(error_of("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"), "t line 1: macro calls nested deeper than 200");
  EXPECT_EQ(error_of("{{ 'a' * 100000000 }}"), "t line 1: string repetition result too large");
  EXPECT_EQ(error_of("{{ " + std::string(300, '(') + "1" + std::string(300, ')') + " }}"),
            "t line 1: template nested too deeply");
}

TEST(ChatTemplate, RunawayValuesAreBounded) {
  // Each iteration nests or doubles a list: the limits stop it before the stack or memory.
  EXPECT_EQ(error_of("{% set ns = namespace(l=[]) %}{% for i in range(1000) %}{% set ns.l = [ns.l] %}{% endfor %}"),
            "t line 1: lists and dicts nested deeper than 500");
  EXPECT_EQ(error_of("{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}"),
            "t line 1: list concatenation result too large");
  // Shared sublists: a tree of 2^40 leaves in a few bytes.
  EXPECT_EQ(error_of("{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}"
                     "{{ ns.l }}"),
            "t line 1: value too large to print");
  EXPECT_EQ(error_of("{% set ns = namespace(a=[1], b=[1]) %}{% for i in range(40) %}{% set ns.a = [ns.a, ns.a] %}"
                     "{% set ns.b = [ns.b, ns.b] %}{% endfor %}{{ ns.a == ns.b }}"),
            "t line 1: values too large to compare");
  EXPECT_EQ(error_of("{% for x in [1] %}{% set b %}{% break %}{% endset %}{% endfor %}"),
            "t line 1: '{% break %}' outside of a for loop");
  EXPECT_THROW(lowbit::chat::Value::from_json(ojson::parse(std::string(600, '[') + std::string(600, ']'))), UserError);
}
