// Whitespace control as transformers' Jinja environment applies it (trim_blocks,
// lstrip_blocks, '-' and '+' modifiers), comments, raw blocks and string literals.
#include "chat/lexer.h"

#include "render_helpers.h"

using lowbit::chat::testing::error_of;
using lowbit::chat::testing::render;

TEST(ChatWhitespace, TrimBlocksDropsTheNewlineAfterABlockTagOnly) {
  EXPECT_EQ(render("{% if true %}\na\n{% endif %}\nb"), "a\nb");
  EXPECT_EQ(render("{{ 'x' }}\ny"), "x\ny");  // not after {{ }}
  EXPECT_EQ(render("{# c #}\ny"), "y");        // comments count as blocks
  EXPECT_EQ(render("{% if true +%}\na{% endif %}"), "\na");  // '+%}' keeps it
}

TEST(ChatWhitespace, LstripBlocksDropsIndentationBeforeBlockTags) {
  EXPECT_EQ(render("  {% if true %}\n    a\n  {% endif %}\nb"), "    a\nb");
  EXPECT_EQ(render("x  {% if true %}y{% endif %}"), "x  y");  // not at a line start
  EXPECT_EQ(render("  {{ 'v' }}"), "  v");                      // not before {{ }}
  EXPECT_EQ(render("\n  {%+ if true %}c{% endif %}"), "\n  c");  // '{%+' keeps it
  EXPECT_EQ(render("a\n   {# w #}\nq"), "a\nq");
}

TEST(ChatWhitespace, MinusStripsAllWhitespaceIncludingNewlines) {
  EXPECT_EQ(render("{{- ' a ' -}}   {{ 'b' }}  {{- 'c' }}"), " a bc");
  EXPECT_EQ(render("x \n {%- if true -%} \n y {%- endif %}"), "xy");
  EXPECT_EQ(render("{#- c -#}   x {# y #}\nz"), "x z");
  // Python's whitespace: a no-break space is stripped too.
  EXPECT_EQ(render("a\u00a0 {{- 'b' }}"), "ab");
}

TEST(ChatWhitespace, NewlinesAreNormalisedAndOneTrailingNewlineDropped) {
  EXPECT_EQ(render("a\r\nb\rc\n"), "a\nb\nc");
  EXPECT_EQ(render("a\n\n"), "a\n");
  EXPECT_EQ(render("{{ 'x\r\ny' }}"), "x\ny");
}

TEST(ChatLexer, RawBlocksAreText) {
  EXPECT_EQ(render("{% raw %}{{ x }}{% if %}{% endraw %}"), "{{ x }}{% if %}");
  EXPECT_EQ(render("{%- raw -%}  a  {%- endraw %}\nb"), "ab");
}

TEST(ChatLexer, StringLiteralEscapesArePythons) {
  EXPECT_EQ(render(R"({{ "x\ty\u00e9\x41\101\d" }})"), "x\ty\u00e9AA\\d");
  EXPECT_EQ(render(R"({{ 'it\'s' ~ "a \"q\"" }})"), "it's" "a \"q\"");
  EXPECT_EQ(render("{{ 'abc' 'def' }}"), "abcdef");  // adjacent literals join
  EXPECT_EQ(render("{{ 'a\nb' }}"), "a\nb");           // a literal may span lines
}

TEST(ChatLexer, NumbersAndBracesInsideTags) {
  EXPECT_EQ(render("{{ 1_000 + 0x10 + 0b11 + 0o7 }}"), "1026");
  EXPECT_EQ(render("{{ 1.5e3 }} {{ 2.50 }} {{ 1e-5 }}"), "1500.0 2.5 1e-05");
  // "}}" inside an open brace is two closing braces, not the end of the tag.
  EXPECT_EQ(render("{{ {'a': {'b': 1}} }}"), "{'a': {'b': 1}}");
}

TEST(ChatLexer, ErrorsNameTheLine) {
  EXPECT_EQ(error_of("a\n{{ 'open }}"), "t line 2: unterminated string literal");
  EXPECT_EQ(error_of("a\nb\n{# never closed"), "t line 3: missing end of comment tag (#})");
  EXPECT_EQ(error_of("{{ x"), "t line 1: unexpected end of template: {{ expression is not closed");
  EXPECT_EQ(error_of("{{ a ) }}"), "t line 1: unexpected ')'");
  EXPECT_EQ(error_of("{{ a $ b }}"), "t line 1: unexpected character '$' in a tag");
  EXPECT_EQ(error_of("{% raw %}x"), "t line 1: missing end of raw directive ({% endraw %})");
  EXPECT_EQ(error_of(R"({{ '\N{BULLET}' }})"), "t line 1: \\N{...} escapes in string literals are not supported");
}
