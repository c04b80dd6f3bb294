#pragma once
// ConfigForm: the run config (docs/config.md) as a form — model, data, training, optimizer and
// BCD settings, each field with a tooltip that says what the key does. setConfig() fills the
// form, config() gives the JSON back: keys the form does not show (betas, eps, blocks, ...)
// travel through unchanged, so setConfig(c) then config() returns c.

#include "bcd/model_config.h"

#include <QJsonObject>
#include <QWidget>
#include <optional>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QSpinBox;

namespace bcd::ui {

class ConfigForm : public QWidget {
    Q_OBJECT
public:
    // modelsDir: where preset models live (<store folder>/models/<preset>), created at launch.
    explicit ConfigForm(const QString& modelsDir, QWidget* parent = nullptr);

    void setConfig(const QJsonObject& config);
    QJsonObject config() const;

    // What setConfig(config) could not show as it is: a value of the wrong type, outside the
    // field's range or not among its choices, one line each ("train.steps: expected an integer
    // from 1 to 100000000, got -5"). Empty when the config loads unchanged. A loaded file with
    // problems is refused, never clamped.
    QStringList problems(const QJsonObject& config) const;
    // Settings of the form as it stands that cannot run (layers per block above the model's
    // layers, ...), one line each naming the key; shown under the form and refused at launch.
    QStringList fieldErrors() const;

    // The presets the form offers (and can create): tiny, small, medium.
    static QStringList presets();
    // The shapes of real models (llama3-8b, qwen2-7b, ...): the planner knows them, but there are
    // no weights to train.
    static QStringList shapePresets();
    // The preset the model field names, empty when it names a folder of the user's.
    QString preset() const;
    bool shapeOnly() const;
    QString modelsDir() const { return modelsDir_; }
    // The model's shape (preset or the folder's config.json); nullopt when it cannot be read.
    std::optional<bcd::ModelConfig> modelConfig() const;
    QString modelSummary() const;
    QString dataPreview() const;

    // Fields tests and the page reach by name.
    QSpinBox* batchSize() const { return batch_; }
    QSpinBox* steps() const { return steps_; }
    QComboBox* precision() const { return precision_; }

signals:
    void changed();

private:
    void updateModelSummary();
    void updatePreview();
    void updateFieldErrors();
    void browseModel();
    void browseData(QLineEdit* edit);
    QString modelPath() const;

    QString modelsDir_;
    QJsonObject base_;
    bool filling_ = false;
    mutable QString cachedModelPath_;
    mutable std::optional<bcd::ModelConfig> cachedModel_;

    QComboBox* modelSource_;
    QLineEdit* modelPath_;
    QLabel* modelSummary_;
    QLineEdit* train_;
    QLineEdit* val_;
    QComboBox* format_;
    QLineEdit* tokenizer_;
    QSpinBox* seqLen_;
    QPlainTextEdit* preview_;
    QSpinBox* steps_;
    QSpinBox* batch_;
    QSpinBox* accum_;
    QSpinBox* seed_;
    QComboBox* precision_;
    QCheckBox* recompute_;
    QSpinBox* threads_;
    QSpinBox* logEvery_;
    QSpinBox* evalEvery_;
    QSpinBox* evalBatches_;
    QSpinBox* ckptEvery_;
    QComboBox* optim_;
    QLineEdit* lr_;
    QComboBox* schedule_;
    QSpinBox* warmup_;
    QLineEdit* minLr_;
    QLineEdit* weightDecay_;
    QDoubleSpinBox* clip_;
    QDoubleSpinBox* momentum_;
    QComboBox* mode_;
    QSpinBox* layersPerBlock_;
    QComboBox* order_;
    QSpinBox* switchEvery_;
    QSpinBox* activeBlocks_;
    QSpinBox* switchWarmup_;
    QCheckBox* resetState_;
    QCheckBox* offload_;
    QCheckBox* embedBlock_;
    QCheckBox* headBlock_;
    QLabel* fieldErrors_;
};

} // namespace bcd::ui
