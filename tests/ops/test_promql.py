"""The small PromQL reader the metric-name test relies on."""

from .promql import parse


def test_selectors_matchers_and_grouping() -> None:
    q = parse('sum by (node, le) (rate(esl_recorder_x_bucket{node=~"a|b", state!="}"}[5m]))'
              ' / on (instance) group_left esl_recorder_y > 2 and esl_recorder_z')
    assert q.matchers == {"esl_recorder_x_bucket": {"node", "state"}, "esl_recorder_y": set(),
                          "esl_recorder_z": set()}
    assert q.grouping == {"node", "le", "instance"}


def test_functions_strings_and_other_prefixes_are_not_metrics() -> None:
    q = parse('label_replace(rate(esl_recorder_r_total{s="esl_recorder_fake"}[1m]), '
              '"class", "${1}xx", "s", "(.).*") + up + time()')
    assert q.matchers == {"esl_recorder_r_total": {"s"}}
    assert q.made_labels == {"class"}


def test_grafana_label_values_uses_its_label() -> None:
    q = parse('label_values(esl_recorder_esl_connected{instance=~"$instance"}, node)')
    assert q.matchers == {"esl_recorder_esl_connected": {"instance"}}
    assert q.grouping == {"node"}
